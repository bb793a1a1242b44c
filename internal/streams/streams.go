// Package streams wires herald to NATS JetStream: an embedded server or an
// external cluster, and the streams herald keeps there.
//
//   - HERALD_LOG, the event log (Log): every webhook body as one message on
//     herald.log.event, and the engine's clock ticks on herald.log.tick.
//   - HERALD_ACTIONS, the action queue (Queue): firings on herald.actions.>,
//     deduplicated by firing id.
//   - KV buckets and object stores (KV, ObjectStore) for leases and
//     snapshots.
//
// All use file storage and the same replica count. On the embedded server
// a publish is acknowledged only after the message was written to the
// store file with write(2), so it survives a crash (SIGKILL) of herald; see
// Options.SyncAlways for power loss.
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable marks failures to store: the server is down or
// unreachable, the wait timed out, or the stream is full. Callers answer
// 503 and the sender retries. Nothing was acknowledged, though in the
// timeout case the message may still have been stored.
var ErrUnavailable = errors.New("event log unavailable")

// ErrTooLarge is returned for a message larger than the server accepts.
var ErrTooLarge = errors.New("message too large for the log")

// Defaults of Options.
const (
	DefaultLogMaxAge         = 7 * 24 * time.Hour
	DefaultLogMaxBytes       = 10 << 30
	DefaultActionsMaxBytes   = 1 << 30
	DefaultActionsDuplicates = 2 * time.Minute
	DefaultTimeout           = 5 * time.Second
	// DefaultMaxPayload is the embedded server's largest message: a
	// 16 MiB webhook body (webhook.max_body's default) plus headers.
	DefaultMaxPayload = 16<<20 + 64<<10
)

// Options configure Open. Zero values select the defaults.
type Options struct {
	// Data is the embedded server's directory; JetStream stores under
	// Data/jetstream. Unused with URLs.
	Data string
	// URLs of an external NATS cluster; empty runs the embedded server.
	URLs []string
	// Listen is a client listen address for the embedded server
	// ("127.0.0.1:4222", port 0 for a random one); "" opens no port.
	Listen string

	// LogMaxAge drops events older than this (default 7 days; negative
	// means no age limit).
	LogMaxAge time.Duration
	// LogMaxBytes caps the event log; a full log refuses appends
	// (DiscardNew) instead of dropping events (default 10 GiB).
	LogMaxBytes int64
	// ActionsMaxAge and ActionsMaxBytes bound HERALD_ACTIONS (defaults:
	// LogMaxAge and 1 GiB).
	ActionsMaxAge   time.Duration
	ActionsMaxBytes int64
	// ActionsDuplicates is the window in which HERALD_ACTIONS drops a
	// firing whose id it has already stored (default 2 minutes).
	ActionsDuplicates time.Duration
	// Replicas of every stream, KV bucket and object store on an external
	// cluster. 0 = auto: an existing log keeps its count; a new one gets 3
	// if the cluster can place 3, else 1. The embedded server uses 1.
	Replicas int

	// SyncAlways makes the embedded server fsync every write before it
	// acknowledges it, so acknowledged events survive power loss and
	// kernel crashes, at a large cost in publish rate. Without it writes
	// reach the OS before the ack (safe from a crash of herald) and are
	// fsynced every SyncInterval.
	SyncAlways bool
	// SyncInterval is the embedded server's background fsync period
	// (default 2 minutes, NATS's default).
	SyncInterval time.Duration
	// MaxPayload is the largest message wanted: the embedded server's
	// max_payload (default DefaultMaxPayload). An external server's own
	// max_payload applies; Open warns when it is smaller. Set it to
	// webhook.max_body plus 64 KiB. Whatever it is, JetStream's file
	// store keeps messages up to 32 MiB only (Log.MaxBody).
	MaxPayload int32

	// Timeout bounds Append, AppendTick and Queue.Publish when the
	// caller's context allows longer (default 5 s).
	Timeout time.Duration
	// Name is the client connection name (default "herald").
	Name string
	// Logger receives connection events and the embedded server's log
	// (default slog.Default()).
	Logger *slog.Logger
	// NATSOptions are extra client options, e.g. credentials or TLS for
	// an external cluster.
	NATSOptions []nats.Option
}

func (o *Options) setDefaults() {
	if o.LogMaxAge == 0 {
		o.LogMaxAge = DefaultLogMaxAge
	}
	if o.LogMaxBytes == 0 {
		o.LogMaxBytes = DefaultLogMaxBytes
	}
	if o.ActionsMaxAge == 0 {
		o.ActionsMaxAge = o.LogMaxAge
	}
	if o.ActionsMaxBytes == 0 {
		o.ActionsMaxBytes = DefaultActionsMaxBytes
	}
	if o.ActionsDuplicates == 0 {
		o.ActionsDuplicates = DefaultActionsDuplicates
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Name == "" {
		o.Name = "herald"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Data == "" {
		o.Data = "./data"
	}
}

// Conn is herald's connection to JetStream, with its streams ready.
type Conn struct {
	opts     Options
	emb      *embedded // nil with an external cluster
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	log      *Log
	actions  *Queue
}

// Open starts the embedded server (when o.URLs is empty), connects and
// creates or updates the streams. The context bounds the set-up.
func Open(ctx context.Context, o Options) (*Conn, error) {
	o.setDefaults()
	c := &Conn{opts: o}
	if err := c.connect(); err != nil {
		return nil, err
	}
	if err := c.setup(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// connect starts the embedded server if needed and connects to NATS.
func (c *Conn) connect() error {
	o := &c.opts
	l := o.Logger
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		// No buffering while disconnected: a publish fails at once and
		// ingest answers 503, rather than waiting and storing it late.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				l.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { l.Info("nats reconnected", "server", nc.ConnectedServerName()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				l.Warn("nats error", "subject", sub.Subject, "err", err)
				return
			}
			l.Warn("nats error", "err", err)
		}),
	}
	url := nats.DefaultURL
	if len(o.URLs) == 0 {
		emb, err := startEmbedded(o)
		if err != nil {
			return err
		}
		c.emb, c.replicas = emb, 1
		opts = append(opts, nats.InProcessServer(inProcess{emb.srv}))
	} else {
		url = strings.Join(o.URLs, ",")
	}
	nc, err := nats.Connect(url, append(opts, o.NATSOptions...)...)
	if err != nil {
		if c.emb != nil {
			c.emb.shutdown()
		}
		return fmt.Errorf("connect to nats: %w", err)
	}
	c.nc = nc
	return nil
}

// setup creates JetStream's streams.
func (c *Conn) setup(ctx context.Context) error {
	// Async publishes (Queue.PublishAll) whose acknowledgement does not
	// come within the timeout fail rather than wait for ever.
	js, err := jetstream.New(c.nc, jetstream.WithPublishAsyncTimeout(c.opts.Timeout))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	c.js = js
	if max := c.nc.MaxPayload(); c.emb == nil && max < int64(c.opts.MaxPayload) {
		c.opts.Logger.Warn("the NATS servers' max_payload is below the largest webhook body: larger bodies will be refused (413); raise max_payload on the servers",
			"max_payload", max, "wanted", c.opts.MaxPayload)
	}
	if c.replicas == 0 {
		if c.replicas, err = c.autoReplicas(ctx); err != nil {
			return err
		}
	}
	c.log, err = c.openLog(ctx)
	if err != nil {
		return err
	}
	c.actions, err = c.openQueue(ctx)
	return err
}

// Close drains the connection (finishing in-flight publishes and acks)
// and shuts the embedded server down, waiting until it has flushed its
// stores and exited.
func (c *Conn) Close() error {
	var err error
	if c.nc != nil && !c.nc.IsClosed() {
		err = c.drain()
	}
	if c.emb != nil {
		c.emb.shutdown()
	}
	return err
}

// drain drains the connection and waits until it is closed.
func (c *Conn) drain() error {
	closed := make(chan struct{})
	c.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := c.nc.Drain(); err != nil {
		c.nc.Close()
		return fmt.Errorf("drain nats connection: %w", err)
	}
	<-closed
	return nil
}

// NATS returns the underlying connection.
func (c *Conn) NATS() *nats.Conn { return c.nc }

// JetStream returns the JetStream context.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }

// Log returns the event log.
func (c *Conn) Log() *Log { return c.log }

// Actions returns the action queue.
func (c *Conn) Actions() *Queue { return c.actions }

// Replicas returns the replica count used for streams, buckets and stores.
func (c *Conn) Replicas() int { return c.replicas }

// Embedded reports whether c runs the in-process server.
func (c *Conn) Embedded() bool { return c.emb != nil }

// ClientURL returns the embedded server's client URL when it listens, or "".
func (c *Conn) ClientURL() string {
	if c.emb == nil || c.opts.Listen == "" {
		return ""
	}
	return c.emb.srv.ClientURL()
}
