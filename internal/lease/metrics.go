package lease

import "github.com/prometheus/client_golang/prometheus"

// metrics are a replica's lease metrics.
type metrics struct {
	held    prometheus.Gauge
	changes *prometheus.CounterVec
}

// Values of herald_lease_changes_total's change label.
const (
	changeAcquired = "acquired" // this replica took the lease
	changeLost     = "lost"     // its deadline passed or another replica took it
	changeReleased = "released" // it gave the lease up (shutdown)
)

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		held: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_lease_held",
			Help: "1 while this replica holds the rules engine's lease, else 0."}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_lease_changes_total",
			Help: "Changes of this replica's hold on the engine lease: acquired, lost (deadline passed or taken over), released (shutdown)."},
			[]string{"change"}),
	}
	for _, c := range []string{changeAcquired, changeLost, changeReleased} {
		m.changes.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.held, m.changes)
	}
	return m
}

func (m metrics) change(c string) {
	m.changes.WithLabelValues(c).Inc()
	if c == changeAcquired {
		m.held.Set(1)
	} else {
		m.held.Set(0)
	}
}
