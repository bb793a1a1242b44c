package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/streams"
)

// Runner runs the actions of one connection. *mailjet.Mailjet,
// *slack.Slack and *httpcall.HTTPCall implement it; id is the job id, the
// idempotency hint.
type Runner interface {
	Do(ctx context.Context, id string, params map[string]any) error
}

// Suppressions says whether a recipient must get no Mailjet follow-up.
// *suppress.Store implements it.
type Suppressions interface {
	Check(ctx context.Context, email string) (reason string, ok bool, err error)
}

// Defaults of Options.
const (
	DefaultConsumer      = "herald-dispatch"
	DefaultConcurrency   = 16
	DefaultMaxAttempts   = 10
	DefaultMaxAge        = 24 * time.Hour
	DefaultBackoffBase   = time.Second
	DefaultBackoffMax    = 10 * time.Minute
	DefaultTimeout       = time.Minute
	DefaultMaxAckPending = 10000
	DefaultStatusTTL     = 7 * 24 * time.Hour
	DefaultGrace         = 10 * time.Second
)

// ackMargin is added to Options.Timeout to make the consumer's AckWait: a
// job is never redelivered to another replica while an attempt runs.
const ackMargin = 30 * time.Second

// Options configure a Dispatcher. Zero values select the defaults.
type Options struct {
	// Conn is the JetStream connection; the dispatcher consumes its
	// action queue and keeps status and dead letters there.
	Conn *streams.Conn
	// Runners run actions, by connection name.
	Runners map[string]Runner
	// Dry names connections whose actions are logged instead of run. A
	// DryRunner in Runners is dry as well, and so is an action's default
	// connection (named like its kind) when it has no runner.
	Dry map[string]bool
	// AllDry makes every action without a runner dry, whatever its
	// connection: serve's quick start, with no connection configured.
	AllDry bool
	// Suppress, when set, is checked for every recipient of a mailjet
	// action without ignore_suppression.
	Suppress Suppressions

	// Concurrency is the number of jobs run at once (default 16).
	Concurrency int
	// MaxAttempts and MaxAge bound retries: a job still failing after
	// MaxAttempts attempts, or whose next attempt would come more than
	// MaxAge after its first, goes to dead letters (defaults 10, 24h).
	MaxAttempts int
	MaxAge      time.Duration
	// BackoffBase and BackoffMax shape the delay before attempt n+1: a
	// random duration up to min(BackoffMax, BackoffBase·2^(n-1)), or the
	// receiver's Retry-After when that is longer (defaults 1s, 10m).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Timeout bounds one attempt (default 1m). The consumer's AckWait is
	// Timeout plus 30s.
	Timeout time.Duration
	// MaxAckPending bounds the jobs handed out and not yet acknowledged,
	// those waiting for a retry included (default 10000). Beyond it new
	// jobs wait until retries finish.
	MaxAckPending int
	// StatusTTL is how long a job's delivery status is kept after its
	// last change (default 7 days, the action stream's default age).
	StatusTTL time.Duration
	// Grace is how long Run lets attempts in flight finish once its
	// context ends before cancelling them (default 10s). A cancelled
	// attempt is not a failure: the job is delivered again.
	Grace time.Duration
	// Consumer is the durable consumer's name, shared by every replica
	// (default "herald-dispatch").
	Consumer string

	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now is the clock for statuses, ages and latencies (default time.Now).
	Now func() time.Time
	// Rand returns a random number in [0, n) for the back-off's jitter
	// (default math/rand/v2.Int64N).
	Rand func(n int64) int64
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Concurrency, DefaultConcurrency)
	def(&o.MaxAttempts, DefaultMaxAttempts)
	def(&o.MaxAckPending, DefaultMaxAckPending)
	defD(&o.MaxAge, DefaultMaxAge)
	defD(&o.BackoffBase, DefaultBackoffBase)
	defD(&o.BackoffMax, DefaultBackoffMax)
	defD(&o.Timeout, DefaultTimeout)
	defD(&o.StatusTTL, DefaultStatusTTL)
	defD(&o.Grace, DefaultGrace)
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Int64N
	}
}

// Dispatcher runs queued jobs. Run consumes the queue; Firings,
// DeadLetters, Retry and Drop serve the admin API and may be called
// concurrently, on any replica, with or without Run.
type Dispatcher struct {
	opt    Options
	log    *slog.Logger
	queue  *streams.Queue
	status jetstream.KeyValue
	dead   jetstream.Stream
	m      *dispatchMetrics
}

// New opens the status bucket and the dead-letter stream and registers the
// metrics. It does not consume anything before Run.
func New(ctx context.Context, opt Options) (*Dispatcher, error) {
	if opt.Conn == nil {
		return nil, errors.New("dispatch: no JetStream connection")
	}
	opt.setDefaults()
	d := &Dispatcher{opt: opt, log: opt.Logger, queue: opt.Conn.Actions()}
	var err error
	if d.status, err = opt.Conn.KV(ctx, StatusBucket, func(c *jetstream.KeyValueConfig) {
		c.Description = "herald: delivery status of queued actions, by job id"
		c.TTL = opt.StatusTTL
	}); err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	if d.dead, err = openDead(ctx, opt.Conn); err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	d.m = newMetrics(opt.Metrics, d.countDead)
	return d, nil
}

// Run consumes the action queue until ctx ends. Then it takes no new job,
// gives attempts in flight Options.Grace to finish, cancels the rest (they
// are delivered again, here or on another replica) and returns nil. It
// returns an error only when the consumer cannot be set up at all.
func (d *Dispatcher) Run(ctx context.Context) error {
	cons, err := d.consumer(ctx)
	if err != nil {
		return err
	}
	// Attempts run under hard, which outlives ctx by the grace period.
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range d.opt.Concurrency {
		wg.Go(func() {
			for msg := range work {
				d.handle(hard, msg)
			}
		})
	}
	d.fetch(ctx, cons, work)
	close(work)
	d.finish(&wg, cancel)
	return nil
}

// consumer creates or updates the shared durable consumer.
func (d *Dispatcher) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := d.queue.Stream().CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       d.opt.Consumer,
		Description:   "herald dispatcher: runs queued actions",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.opt.Timeout + ackMargin,
		MaxDeliver:    -1, // attempts are counted in the status
		MaxAckPending: d.opt.MaxAckPending,
		FilterSubject: streams.SubjectActionsPrefix + ">",
	})
	if err != nil {
		return nil, fmt.Errorf("dispatch: consumer %s on %s: %w", d.opt.Consumer, streams.StreamActions, err)
	}
	return cons, nil
}

// fetch hands messages to the workers until ctx ends, starting the
// consumer again when its subscription breaks (e.g. the consumer was
// deleted, or the server restarted).
func (d *Dispatcher) fetch(ctx context.Context, cons jetstream.Consumer, work chan<- jetstream.Msg) {
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(d.opt.Concurrency))
		if err == nil {
			err = d.pump(ctx, it, work)
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("dispatch: consuming the action queue", "err", err)
		if !pause(ctx, time.Second) {
			return
		}
		if c, err := d.consumer(ctx); err == nil {
			cons = c
		}
	}
}

// pump passes messages from it to the workers. It returns when ctx ends
// (after handing back the messages it holds) or when it breaks.
func (d *Dispatcher) pump(ctx context.Context, it jetstream.MessagesContext, work chan<- jetstream.Msg) error {
	defer handBack(it)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		switch {
		case ctx.Err() != nil:
			if msg != nil {
				_ = msg.Nak()
			}
			return nil
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return err
		case err != nil:
			// Missing heartbeats and the like: the iterator recovers.
			d.log.Debug("dispatch: next job", "err", err)
			if !pause(ctx, 100*time.Millisecond) {
				return nil
			}
			continue
		}
		select {
		case work <- msg:
		case <-ctx.Done():
			_ = msg.Nak()
			return nil
		}
	}
}

// handBack stops it and returns the messages it had buffered to the queue
// at once, rather than after AckWait.
func handBack(it jetstream.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// finish waits for the workers, cancelling their attempts after the grace
// period.
func (d *Dispatcher) finish(wg *sync.WaitGroup, cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d.opt.Grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.log.Warn("dispatch: cancelling attempts still running after the grace period", "grace", d.opt.Grace)
		cancel()
		<-done
	}
}

// pause waits for d or until ctx ends; it reports whether ctx is alive.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
