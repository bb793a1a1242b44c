package dispatch

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/internal/metrics"
)

// Outcomes, the values of herald_actions_total{outcome}.
const (
	outSent         = "sent"
	outFailed       = "failed" // a permanent failure (then also dead_lettered)
	outRetried      = "retried"
	outDeadLettered = "dead_lettered"
	outSuppressed   = "suppressed"
	outDryRun       = "dry_run"
	outShadow       = "shadow"
	// outGaveUp marks a dead letter after the attempts or the age ran out:
	// counted as dead_lettered only.
	outGaveUp = "gave_up"
)

// dispatchMetrics are the dispatcher's collectors; with no registry they
// count into the void.
type dispatchMetrics struct {
	actions  *prometheus.CounterVec
	delivery *prometheus.HistogramVec
}

func newMetrics(m *metrics.Metrics, countDead func(context.Context) (uint64, error)) *dispatchMetrics {
	dm := &dispatchMetrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_actions_total",
			Help: "Actions by kind, connection and outcome: sent, failed (permanently), retried, dead_lettered, suppressed, dry_run, shadow.",
		}, []string{"kind", "connection", "outcome"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_action_delivery_seconds",
			Help:    "Time from a firing to its action's successful delivery, by kind.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"kind"}),
	}
	if m == nil {
		return dm
	}
	dead := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_dead_letters",
		Help: "Actions in dead letters now (all replicas).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := countDead(ctx)
		if err != nil {
			return math.NaN() // unknown: the stream cannot be read now
		}
		return float64(n)
	})
	m.Registry.MustRegister(dm.actions, dm.delivery, dead)
	return dm
}

func (dm *dispatchMetrics) count(kind, conn, outcome string) {
	dm.actions.WithLabelValues(kind, conn, outcome).Inc()
}

func (dm *dispatchMetrics) latency(kind string, d time.Duration) {
	dm.delivery.WithLabelValues(kind).Observe(max(d, 0).Seconds())
}
