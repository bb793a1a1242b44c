// Package config loads herald.yaml, the operator's configuration (DESIGN §7).
//
// Loading is strict: unknown or duplicate keys and values of the wrong type
// are errors naming file:line:col and the key path, and every error of a
// file is reported at once. Scalar values may reference environment
// variables; see Parse for the rules. Secrets are typed Secret and never
// appear in errors, fmt output or logs.
//
// Everything is optional: Default returns a configuration that runs herald
// on an embedded NATS server with no credentials (every action dry-run).
// Flags override the file by assigning the exported fields; call Validate
// afterwards.
package config

import (
	"time"
)

// Config is the whole of herald.yaml.
type Config struct {
	// Listen is the HTTP listen address (default ":8080").
	Listen string `yaml:"listen"`
	// Data is the data directory for the embedded NATS server (default "./data").
	Data string `yaml:"data"`
	// NATS is "" for the embedded server, or a comma-separated list of
	// URLs of an external NATS cluster ("nats://a:4222,nats://b:4222").
	NATS string `yaml:"nats"`
	// Rules is the rules file; "" lets serve decide (rules.yaml if present).
	Rules string `yaml:"rules"`
	// DryRun logs every action instead of running it.
	DryRun bool `yaml:"dry_run"`
	// Logging configures herald's own logs.
	Logging Logging `yaml:"logging"`
	// Webhook configures the Mailjet event endpoint.
	Webhook Webhook `yaml:"webhook"`
	// Admin configures the /api endpoints.
	Admin Admin `yaml:"admin"`
	// TLS, when set, makes herald serve HTTPS itself.
	TLS *TLS `yaml:"tls"`
	// Log configures the event log stream (and the other JetStream streams).
	Log LogStream `yaml:"log"`
	// Embedded configures the embedded NATS server (used when NATS is "").
	Embedded Embedded `yaml:"embedded"`
	// HTTP holds the HTTP server timeouts.
	HTTP HTTPTimeouts `yaml:"http"`
	// Dispatch configures the delivery of actions.
	Dispatch Dispatch `yaml:"dispatch"`
	// Cluster configures the replicas' lease on the rules engine.
	Cluster Cluster `yaml:"cluster"`
	// Connections are the named destinations of actions.
	Connections map[string]*Connection `yaml:"connections"`

	// Warnings are non-fatal findings of Load, such as a referenced
	// environment variable that is not set. Serve logs them at start.
	Warnings []string `yaml:"-"`

	// pos maps key paths ("webhook.max_body") to where they are in file,
	// for the messages of Validate.
	pos  map[string]position
	file string
	// flags maps keys set by Override to the flag that set them.
	flags map[string]string
}

// Dispatch configures the action dispatcher. Zero values select its
// defaults (internal/dispatch).
type Dispatch struct {
	// Concurrency is how many actions run at once on each replica
	// (default 16). A crash can repeat at most this many deliveries.
	Concurrency int `yaml:"concurrency"`
	// MaxAttempts and MaxAge bound retries before a dead letter
	// (defaults 10 and 24h).
	MaxAttempts int      `yaml:"max_attempts"`
	MaxAge      Duration `yaml:"max_age"`
	// BackoffBase and BackoffMax shape the exponential back-off with
	// jitter between attempts (defaults 1s and 10m).
	BackoffBase Duration `yaml:"backoff_base"`
	BackoffMax  Duration `yaml:"backoff_max"`
	// Timeout bounds one attempt (default 1m).
	Timeout Duration `yaml:"timeout"`
}

// Cluster configures how the replicas share the rules engine.
type Cluster struct {
	// Lease is the engine's lease time (default 10s): a replica that dies
	// holding it is replaced after at most this long. Every replica of a
	// cluster must use the same value.
	Lease Duration `yaml:"lease"`
}

// MinLease and MaxLease bound cluster.lease (the message of Validate says
// them too): the holder renews every third of it, so it must leave NATS
// writes time to answer, and a dead holder is replaced only after it.
const (
	MinLease = 2 * time.Second
	MaxLease = 5 * time.Minute
)

// Logging configures herald's log/slog output.
type Logging struct {
	// Level is debug, info, warn or error (default info).
	Level string `yaml:"level"`
	// Format is text or json (default text).
	Format string `yaml:"format"`
}

// Webhook configures POST /webhooks/mailjet.
type Webhook struct {
	// Path is the URL path Mailjet posts to (default /webhooks/mailjet).
	Path string `yaml:"path"`
	// BasicAuth, when set, is required on every webhook request.
	BasicAuth *BasicAuth `yaml:"basic_auth"`
	// MaxBody is the largest body accepted; larger ones get 413 (default 16MiB).
	MaxBody Size `yaml:"max_body"`
	// MaxConcurrent caps webhook requests in flight; over it herald
	// answers 503 with Retry-After (default 64).
	MaxConcurrent int `yaml:"max_concurrent"`
	// DedupHorizon is how long a duplicate event is recognised (default 24h).
	DedupHorizon Duration `yaml:"dedup_horizon"`
}

// BasicAuth is a username and password.
type BasicAuth struct {
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
}

// Admin configures the admin API.
type Admin struct {
	// Token, when set, is required as "Authorization: Bearer …" on /api/*.
	Token Secret `yaml:"token"`
}

// TLS names the certificate and key files for HTTPS.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// LogStream configures the JetStream event log.
type LogStream struct {
	// MaxAge drops events older than this; 0 keeps them regardless of age
	// (default 7d). streams.Options.LogMaxAge takes -1 for that.
	MaxAge Duration `yaml:"max_age"`
	// MaxBytes caps the log; when it is full, ingest answers 503 rather
	// than dropping unprocessed events (default 10GiB).
	MaxBytes Size `yaml:"max_bytes"`
	// Replicas is the stream replica count on an external cluster; 0
	// means 3 when the cluster has at least 3 servers, else 1. The
	// embedded server always uses 1.
	Replicas int `yaml:"replicas"`
	// Fsync makes the embedded server fsync every write before it acks,
	// so acknowledged events survive power loss, not only a crash of the
	// process (default false; see streams.Options.SyncAlways).
	Fsync bool `yaml:"fsync"`
	// SyncInterval is how often the embedded server fsyncs in the
	// background when Fsync is false (default 2m, NATS's default).
	SyncInterval Duration `yaml:"sync_interval"`
}

// Embedded configures the in-process NATS server.
type Embedded struct {
	// Listen is a client listen address ("127.0.0.1:4222") so that NATS
	// tools can inspect the embedded server; "" opens no port (default).
	Listen string `yaml:"listen"`
}

// HTTPTimeouts are the http.Server timeouts and the shutdown bound.
type HTTPTimeouts struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // default 5s
	ReadTimeout       Duration `yaml:"read_timeout"`        // default 30s
	WriteTimeout      Duration `yaml:"write_timeout"`       // default 30s
	IdleTimeout       Duration `yaml:"idle_timeout"`        // default 120s
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`    // default 25s
}

// Connection types.
const (
	TypeSlack   = "slack"
	TypeMailjet = "mailjet"
	TypeHTTP    = "http"
)

// DefaultMailjetBaseURL is the base_url of a mailjet connection without one.
const DefaultMailjetBaseURL = "https://api.mailjet.com"

// Limits and defaults.
const (
	// DefaultHTTPCallTimeout is the timeout of an http connection without one.
	DefaultHTTPCallTimeout = 10 * time.Second
	// MaxBodyLimit is the largest webhook.max_body: a body is stored as one
	// JetStream message, and JetStream's file store keeps messages up to
	// 32 MiB.
	MaxBodyLimit = 31 * MiB
)

// Connection is one named destination of actions: credentials and
// endpoints that rules cannot choose. It is one flat struct; which fields
// apply depends on Type, and fields of another type are load errors.
type Connection struct {
	// Type is slack, mailjet or http.
	Type string `yaml:"type"`

	// WebhookURL is a Slack incoming webhook (slack). It is a secret: the
	// URL itself grants posting.
	WebhookURL Secret `yaml:"webhook_url"`
	// Token is a Slack bot token for chat.postMessage (slack).
	Token Secret `yaml:"token"`
	// Channel is the default channel for Token (slack).
	Channel string `yaml:"channel"`
	// APIURL overrides Slack's API base URL, for tests and staging (slack).
	APIURL string `yaml:"api_url"`

	// APIKey and APISecret are the Mailjet API key pair (mailjet).
	APIKey    Secret `yaml:"api_key"`
	APISecret Secret `yaml:"api_secret"`
	// From is the default sender (mailjet).
	From Address `yaml:"from"`
	// Sandbox sets Mailjet's SandboxMode: validate, do not send (mailjet).
	Sandbox bool `yaml:"sandbox"`

	// BaseURL is the API root: Mailjet's (default https://api.mailjet.com)
	// or the HTTP service's, under which http actions give a path.
	BaseURL string `yaml:"base_url"`
	// Headers are sent with every request (http). Values are secrets.
	Headers map[string]Secret `yaml:"headers"`
	// SigningSecret, when set, signs request bodies (http).
	SigningSecret Secret `yaml:"signing_secret"`
	// Timeout bounds one request (http; default 10s).
	Timeout Duration `yaml:"timeout"`

	// MissingEnv lists the environment variables this connection
	// references that are not set. Such a connection is not Configured:
	// its actions run dry.
	MissingEnv []string `yaml:"-"`
}

// Address is an email address with an optional display name.
type Address struct {
	Email string `yaml:"email"`
	Name  string `yaml:"name"`
}

// Default returns the configuration used when there is no file: embedded
// NATS under ./data, no credentials, every connection absent.
func Default() *Config {
	return &Config{
		Listen:  ":8080",
		Data:    "./data",
		Logging: Logging{Level: "info", Format: "text"},
		Webhook: Webhook{
			Path:          "/webhooks/mailjet",
			MaxBody:       16 * MiB,
			MaxConcurrent: 64,
			DedupHorizon:  Duration(24 * time.Hour),
		},
		Log: LogStream{
			MaxAge:       Duration(7 * 24 * time.Hour),
			MaxBytes:     10 * GiB,
			SyncInterval: Duration(2 * time.Minute),
		},
		HTTP: HTTPTimeouts{
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(30 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(25 * time.Second),
		},
		Cluster:     Cluster{Lease: Duration(10 * time.Second)},
		Connections: map[string]*Connection{},
	}
}

// NATSURLs splits NATS into its URLs; nil means embedded.
func (c *Config) NATSURLs() []string {
	return splitList(c.NATS)
}
