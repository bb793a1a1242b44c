// Package server is herald's HTTP surface: the Mailjet webhook (ingest),
// health and readiness, Prometheus metrics and the admin API. It knows the
// event log through the small EventLog interface and the rest of herald
// (rules, firings, dead letters) through optional interfaces in Options;
// a nil one leaves its endpoints out (404).
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/streams"
)

// EventLog is the durable event log. Ingest appends each accepted webhook
// body to it as one record; /api/events reads it back; /readyz asks whether
// it can take writes. *streams.Log implements it.
type EventLog interface {
	// Append stores body and returns once the log holds it durably.
	Append(ctx context.Context, body []byte, received time.Time) (seq uint64, err error)
	// Last calls fn with the newest event records first, at most n, until
	// fn returns false.
	Last(ctx context.Context, n int, fn func(streams.Record) bool) error
	// Writable reports why the log cannot take writes now, or nil.
	Writable(ctx context.Context) error
}

var _ EventLog = (*streams.Log)(nil)

// BasicAuth is the credential Mailjet must send to the webhook. An empty
// Username and Password turns the check off.
type BasicAuth struct {
	Username string
	Password string
}

// Options configure a Server. Log is required; everything else is optional.
type Options struct {
	Log     EventLog
	Metrics *metrics.Metrics // nil: a new registry
	Logger  *slog.Logger     // nil: slog.Default()

	// WebhookPath is where Mailjet POSTs events (default /webhooks/mailjet).
	WebhookPath string
	// BasicAuth, when set, is required on the webhook.
	BasicAuth BasicAuth
	// MaxBody is the largest webhook body accepted (default 16 MiB).
	MaxBody int64
	// MaxConcurrent caps the webhook requests handled at once; over it the
	// webhook answers 503 at once (default 256).
	MaxConcurrent int
	// RetryAfter is the delay a 503 asks clients to wait (default 10s).
	RetryAfter time.Duration
	// AdminToken, when set, is required as a bearer token on /api/*.
	AdminToken string

	// Ready reports why herald is not ready (e.g. rules not loaded), or
	// nil. /readyz also requires Log.Writable. Nil: only the log counts.
	Ready func(ctx context.Context) error

	// Rules serves GET /api/rules and POST /api/reload; nil: 404.
	Rules Rules
	// Firings serves GET /api/firings; nil: 404.
	Firings Firings
	// DeadLetters serves /api/dead-letters; nil: 404.
	DeadLetters DeadLetters
	// Routes, when set, adds routes to the /api subrouter, behind the
	// admin token.
	Routes func(api *mux.Router)

	// Now is the clock that stamps received events (default time.Now).
	Now func() time.Time
}

// Defaults for Options.
const (
	DefaultWebhookPath   = "/webhooks/mailjet"
	DefaultMaxBody       = 16 << 20
	DefaultMaxConcurrent = 256
	DefaultRetryAfter    = 10 * time.Second
)

// Server handles herald's HTTP requests. Create it with New and serve
// Handler with an http.Server.
type Server struct {
	opts       Options
	log        EventLog
	metrics    *metrics.Metrics
	logger     *slog.Logger
	now        func() time.Time
	sem        chan struct{}
	retryAfter string
	auth       *basicAuth // nil: no basic auth
	token      *secret    // nil: no admin token
	codes      codeCounters
	router     *mux.Router
	batcher    *batcher
}

// New returns a Server for opts.
func New(opts Options) *Server {
	if opts.Log == nil {
		panic("server: Options.Log is nil")
	}
	s := &Server{opts: opts, log: opts.Log, metrics: opts.Metrics, logger: opts.Logger, now: opts.Now}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.WebhookPath == "" {
		s.opts.WebhookPath = DefaultWebhookPath
	}
	if s.opts.MaxBody <= 0 {
		s.opts.MaxBody = DefaultMaxBody
	}
	if s.opts.MaxConcurrent <= 0 {
		s.opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if s.opts.RetryAfter <= 0 {
		s.opts.RetryAfter = DefaultRetryAfter
	}
	s.sem = make(chan struct{}, s.opts.MaxConcurrent)
	s.retryAfter = strconv.Itoa(int((s.opts.RetryAfter + time.Second - 1) / time.Second))
	if a := opts.BasicAuth; a.Username != "" || a.Password != "" {
		s.auth = &basicAuth{user: newSecret(a.Username), pass: newSecret(a.Password)}
	}
	if opts.AdminToken != "" {
		s.token = newSecret(opts.AdminToken)
	}
	s.codes = newCodeCounters(s.metrics)
	s.router = s.routes()
	s.batcher = newBatcher(s.log, s.metrics.LogAppends, int(min(s.opts.MaxBody, batchMaxBytes)), appenders)
	return s
}

// Close stops the log appenders once the appends in flight are done. Call
// it after the HTTP server has shut down; webhook requests still arriving
// get 503.
func (s *Server) Close() { s.batcher.close() }

// Handler returns the http.Handler serving every herald endpoint.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveHTTP sends webhook POSTs straight to their handler and everything
// else through the router. The webhook is nearly all of herald's traffic,
// and the router would match its path with a regular expression and copy
// the request twice to carry route variables it does not have.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == s.opts.WebhookPath {
		s.webhook(w, r)
		return
	}
	s.router.ServeHTTP(w, r)
}

// Metrics returns the metrics the server increments and serves.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	r.Handle(s.opts.WebhookPath, http.HandlerFunc(s.webhook)).Methods(http.MethodPost)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{
		Registry: s.metrics.Registry,
	})).Methods(http.MethodGet)

	api := r.PathPrefix("/api/").Subrouter()
	api.Use(s.requireToken)
	api.HandleFunc("/events", s.events).Methods(http.MethodGet)
	s.apiRoutes(api)
	if s.opts.Routes != nil {
		s.opts.Routes(api)
	}
	// Unknown /api paths answer 401 without a token (not 404), so they
	// reveal nothing about what exists.
	api.NotFoundHandler = s.requireToken(http.HandlerFunc(s.notFound))
	api.MethodNotAllowedHandler = s.requireToken(http.HandlerFunc(methodNotAllowed))
	r.NotFoundHandler = http.HandlerFunc(s.notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
	return r
}
