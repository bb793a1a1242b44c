package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/heraldmail/herald/internal/config"
	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/server"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/prometheus/client_golang/prometheus"
)

// defaultConfigFile is read by serve when --config is not given and it
// exists in the working directory.
const defaultConfigFile = "herald.yaml"

// runServe runs herald serve until ctx is done (SIGINT, SIGTERM).
func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := serveConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "herald serve: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald serve: %v\n", err)
		return 1
	}
	logger, err := newLogger(stderr, cfg.Logging)
	if err != nil {
		fmt.Fprintf(stderr, "herald serve: %v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		logger.Warn("config: " + w)
	}
	m := NewMain(cfg, logger)
	if err := m.Run(ctx); err != nil {
		logger.Error("serve: could not start", "err", err)
		m.Close()
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout.D())
	case err := <-m.Err():
		logger.Error("serve: HTTP server failed", "err", err)
		code = 1
	}
	if err := m.Close(); err != nil {
		logger.Error("serve: shutdown", "err", err)
		code = 1
	}
	logger.Info("stopped")
	return code
}

// serveConfig parses serve's flags, loads the configuration file and
// applies the flags that were set over it.
func serveConfig(args []string, stderr io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `file` (default "+defaultConfigFile+" when it exists, else built-in defaults)")
	rules := fs.String("rules", "", "rules `file` (overrides the config's rules)")
	listen := fs.String("listen", "", "HTTP listen `address` (overrides listen, default :8080)")
	data := fs.String("data", "", "data `directory` of the embedded NATS server (overrides data, default ./data)")
	natsURLs := fs.String("nats", "", "external NATS `URLs`, comma-separated (overrides nats; default: embedded)")
	dryRun := fs.Bool("dry-run", false, "log every action instead of running it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: herald serve [flags]\n\nRuns the daemon. Flags override the configuration file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	file := *path
	if file == "" {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			file = defaultConfigFile
		}
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	var o config.Overrides
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "rules":
			o.Rules = rules
		case "listen":
			o.Listen = listen
		case "data":
			o.Data = data
		case "nats":
			o.NATS = natsURLs
		case "dry-run":
			o.DryRun = dryRun
		}
	})
	if err := cfg.Override(o); err != nil {
		return nil, err
	}
	return cfg, nil
}

// usageError is a mistake on the command line (exit status 2), as opposed
// to a bad configuration file (exit status 1).
type usageError struct{ error }

// newLogger returns the slog logger cfg asks for, writing to w.
func newLogger(w io.Writer, cfg config.Logging) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmpOr(cfg.Level, "info"))); err != nil {
		return nil, fmt.Errorf("logging.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cmpOr(cfg.Format, "text")) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("logging.format %q: want text or json", cfg.Format)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Main is the herald serve daemon: the event log, the rules engine and the
// HTTP server.
// Tests start it in-process on 127.0.0.1:0 with a t.TempDir() data
// directory: NewMain, Run, Addr, then Close.
type Main struct {
	Config  *config.Config
	Logger  *slog.Logger
	Metrics *metrics.Metrics

	engineState
	dispatchState
	conn      *streams.Conn
	server    *server.Server
	http      *http.Server
	ln        net.Listener
	errc      chan error
	closeOnce sync.Once
	closeErr  error

	// wrapHandler, when set (by tests, before Run), wraps the HTTP
	// handler: a test sees a request arrive and its body being read.
	wrapHandler func(http.Handler) http.Handler
}

// NewMain returns a daemon for cfg that logs to logger.
func NewMain(cfg *config.Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, Metrics: metrics.New(), errc: make(chan error, 1)}
}

// Run opens the event log, binds the listen address and starts serving.
// It returns once herald accepts requests; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	conn, err := streams.Open(ctx, m.streamsOptions())
	if err != nil {
		return fmt.Errorf("opening the event log: %w", err)
	}
	m.conn = conn
	m.Metrics.Registry.MustRegister(logLastPosition(conn.Log()))
	if err := m.openSuppressions(ctx); err != nil {
		return err
	}
	if err := m.startEngine(ctx); err != nil {
		return err
	}
	if err := m.startDispatcher(ctx); err != nil {
		return err
	}

	m.server = server.New(m.serverOptions())
	return m.listen()
}

// logLastPosition is the newest record's sequence in the event log, read
// from the stream at each scrape: with herald_engine_log_position it gives
// how far the engine is behind ingest. NaN when the log does not answer.
func logLastPosition(log *streams.Log) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_log_last_position",
		Help: "The sequence of the newest record in the event log."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, last, err := log.Bounds(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(last)
	})
}

// streamsOptions maps the configuration onto the event log's options.
func (m *Main) streamsOptions() streams.Options {
	cfg := m.Config
	o := streams.Options{
		Data:         cfg.Data,
		URLs:         cfg.NATSURLs(),
		Listen:       cfg.Embedded.Listen,
		LogMaxAge:    cfg.Log.MaxAge.D(),
		LogMaxBytes:  cfg.Log.MaxBytes.Bytes(),
		Replicas:     cfg.Log.Replicas,
		SyncAlways:   cfg.Log.Fsync,
		SyncInterval: cfg.Log.SyncInterval.D(),
		Logger:       m.Logger,
	}
	if o.LogMaxAge == 0 {
		o.LogMaxAge = -1 // log.max_age: 0 keeps events regardless of age
	}
	// The embedded server must take the largest webhook body as one
	// message, with room for its headers.
	if need := cfg.Webhook.MaxBody.Bytes() + 64<<10; need > streams.DefaultMaxPayload {
		o.MaxPayload = int32(min(need, math.MaxInt32))
	}
	return o
}

// serverOptions maps the configuration onto the HTTP server's options.
func (m *Main) serverOptions() server.Options {
	cfg := m.Config
	opts := server.Options{
		Log:           m.conn.Log(),
		Metrics:       m.Metrics,
		Logger:        m.Logger,
		WebhookPath:   cfg.Webhook.Path,
		MaxBody:       cfg.Webhook.MaxBody.Bytes(),
		MaxConcurrent: cfg.Webhook.MaxConcurrent,
		AdminToken:    cfg.Admin.Token.Value(),
		Ready:         m.engineReady,
		Rules:         m.runner,
		Firings:       m.dispatcher,
		DeadLetters:   m.dispatcher,
	}
	// A body the log cannot hold as one message is refused with 413 up
	// front (an external server's max_payload may be below max_body).
	if limit := m.conn.Log().MaxBody(); opts.MaxBody > limit {
		m.Logger.Warn("webhook.max_body is larger than the event log's largest message; using the log's",
			"max_body", opts.MaxBody, "log_max_body", limit)
		opts.MaxBody = limit
	}
	if a := cfg.Webhook.BasicAuth; a != nil {
		opts.BasicAuth = server.BasicAuth{Username: a.Username, Password: a.Password.Value()}
	}
	return opts
}

// listen binds the address first, so ":0" works and Addr is known, then
// serves HTTP, or HTTPS when tls is configured, in the background.
func (m *Main) listen() error {
	cfg := m.Config
	handler := m.server.Handler()
	if m.wrapHandler != nil {
		handler = m.wrapHandler(handler)
	}
	m.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.HTTP.ReadTimeout.D(),
		WriteTimeout:      cfg.HTTP.WriteTimeout.D(),
		IdleTimeout:       cfg.HTTP.IdleTimeout.D(),
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	if t := cfg.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		m.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	m.ln = ln
	go func() {
		var err error
		if m.http.TLSConfig != nil {
			err = m.http.ServeTLS(ln, "", "")
		} else {
			err = m.http.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			m.errc <- err
		}
	}()
	m.Logger.Info("listening", "addr", ln.Addr().String(), "tls", cfg.TLS != nil,
		"webhook", cfg.Webhook.Path, "basic_auth", cfg.Webhook.BasicAuth != nil,
		"admin_token", cfg.Admin.Token != "")
	return nil
}

// Addr returns the address herald listens on, once Run has returned.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Err delivers an error if the HTTP server stops on its own.
func (m *Main) Err() <-chan error { return m.errc }

// Close stops accepting requests, lets those in flight finish (within
// http.shutdown_timeout), then closes the event log. It is safe to call
// more than once and after a failed Run.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		// The engine first: its lease goes to another replica at once,
		// while this one finishes the webhook requests in flight (their
		// events are in the log for whichever engine runs next).
		m.closeEngine()
		if m.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), m.Config.HTTP.ShutdownTimeout.D())
			if err := m.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				m.http.Close()
			}
			cancel()
		}
		if m.server != nil {
			m.server.Close() // the appends in flight finish before the log closes
		}
		m.closeDispatcher()
		if m.conn != nil {
			if err := m.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing the event log: %w", err))
			}
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
