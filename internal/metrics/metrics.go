// Package metrics holds herald's Prometheus metrics: one registry of its own
// (not the global one) with the Go and process collectors, and the counters
// each stage of the pipeline increments.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Rejection reasons, the values of herald_webhook_rejected_total{reason}.
const (
	ReasonNotJSON        = "not_json"
	ReasonNotObject      = "not_object"
	ReasonTooLarge       = "too_large"
	ReasonUnauthorized   = "unauthorized"
	ReasonOverloaded     = "overloaded"
	ReasonLogUnavailable = "log_unavailable"
	ReasonBadRequest     = "bad_request" // the body could not be read
)

// Metrics is herald's set of metrics. Ingest increments the webhook ones;
// the engine consumer, which decodes events, increments EventsReceived and
// EventsDuplicate. Other stages register their own collectors on Registry.
type Metrics struct {
	// Registry holds every herald metric; /metrics serves it.
	Registry *prometheus.Registry

	// WebhookRequests counts webhook requests by HTTP status code.
	WebhookRequests *prometheus.CounterVec
	// WebhookEvents counts events acknowledged (200) by the webhook.
	WebhookEvents prometheus.Counter
	// WebhookRejected counts webhook bodies refused, by reason.
	WebhookRejected *prometheus.CounterVec
	// WebhookInFlight is the number of webhook requests being handled.
	WebhookInFlight prometheus.Gauge
	// IngestDuration is the time the webhook handler takes, whole.
	IngestDuration prometheus.Histogram
	// LogErrors counts failed appends to the event log.
	LogErrors prometheus.Counter
	// LogAppends counts records appended to the event log by ingest;
	// concurrent webhook bodies may share one record.
	LogAppends prometheus.Counter

	// EventsReceived counts decoded events by Mailjet event type. The
	// ingest path does not decode, so the engine consumer increments it.
	EventsReceived *prometheus.CounterVec
	// EventsDuplicate counts events dropped as duplicates (DESIGN §5).
	EventsDuplicate prometheus.Counter
}

// New returns a Metrics registered on a new registry, with the Go and
// process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_requests_total",
			Help: "Webhook requests by HTTP status code.",
		}, []string{"code"}),
		WebhookEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_webhook_events_total",
			Help: "Events acknowledged by the webhook (durably in the log).",
		}),
		WebhookRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_rejected_total",
			Help: "Webhook requests refused, by reason.",
		}, []string{"reason"}),
		WebhookInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_webhook_in_flight",
			Help: "Webhook requests being handled now.",
		}),
		IngestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_ingest_duration_seconds",
			Help:    "Time to handle one webhook request, from routing to the answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		LogErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_log_errors_total",
			Help: "Appends to the event log that failed.",
		}),
		LogAppends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_log_appends_total",
			Help: "Records appended to the event log by ingest (concurrent webhook bodies may share one).",
		}),
		EventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_received_total",
			Help: "Events decoded from the log, by Mailjet event type.",
		}, []string{"type"}),
		EventsDuplicate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_events_duplicate_total",
			Help: "Events dropped as duplicates of an earlier one.",
		}),
	}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.WebhookRequests, m.WebhookEvents, m.WebhookRejected, m.WebhookInFlight,
		m.IngestDuration, m.LogErrors, m.LogAppends, m.EventsReceived, m.EventsDuplicate,
	)
	// Pre-create the label values operators alert on, so they read 0
	// rather than being absent before the first rejection.
	for _, reason := range []string{ReasonNotJSON, ReasonNotObject, ReasonTooLarge,
		ReasonUnauthorized, ReasonOverloaded, ReasonLogUnavailable} {
		m.WebhookRejected.WithLabelValues(reason)
	}
	return m
}
