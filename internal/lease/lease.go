// Package lease elects one herald replica to run the rules engine: the
// holder of a lease on one key of a JetStream KV bucket.
//
// The key's value names the holder (Info). A replica takes the lease by
// creating the key (which fails while it exists) and keeps it by
// rewriting it every TTL/3 with a compare-and-set on the revision it
// wrote last. The bucket's TTL (its stream's max age) removes a key
// that nobody rewrote for TTL, so the lease of a dead replica ends on its
// own.
//
// The holder trusts no message to tell it that it lost the lease: it keeps
// a local deadline on the monotonic clock, the send time of its last
// successful write plus TTL minus a safety margin, and considers itself
// the holder only before it (Held). Since the server cannot have expired
// the key before send time plus TTL, the old holder has stopped before
// any other replica can create the key again, even when it was paused and
// never saw a renewal fail.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults.
const (
	// Bucket is the KV bucket of herald's leases.
	Bucket = "herald_lease"
	// DefaultKey is the key of the rules engine's lease.
	DefaultKey = "engine"
	// DefaultTTL is the lease time: a dead holder's lease ends after at
	// most this long.
	DefaultTTL = 10 * time.Second
)

// BucketConfig returns the options of Bucket (for streams.Conn.KV): keys
// expire ttl after their last write, and their expiry leaves a marker
// that wakes up the replicas watching the key (markers need 1 s at least;
// they go away after that).
func BucketConfig(ttl time.Duration) func(*jetstream.KeyValueConfig) {
	return func(c *jetstream.KeyValueConfig) {
		c.TTL = ttl
		c.History = 1
		c.LimitMarkerTTL = max(ttl, time.Second)
		c.Description = "herald: which replica runs the rules engine"
	}
}

// Info is the value of the lease key: who holds it, since when, and the
// version of the rules it runs.
type Info struct {
	Holder string    `json:"holder"`
	Rules  string    `json:"rules,omitempty"`
	Since  time.Time `json:"since"`
}

// Options configure a Lease. KV is required.
type Options struct {
	// KV is the bucket, created with BucketConfig(TTL).
	KV jetstream.KeyValue
	// Key is the lease's key (default DefaultKey).
	Key string
	// TTL is the lease time; it must be the bucket's TTL (default
	// DefaultTTL).
	TTL time.Duration
	// Margin is taken off TTL for the holder's local deadline (default
	// TTL/5). It covers the NATS servers' clocks running ahead of one
	// another (the key's expiry is counted from the stream leader's clock
	// by every replica of the stream) and the time between Held and the
	// work it guards.
	Margin time.Duration
	// ID names this replica in the value (default NewID()).
	ID string
	// Rules returns the version of the rules this replica runs, written
	// into the value while it holds the lease (default: none).
	Rules func() string
	// OnChange, when set, is called with the value each time it is seen
	// to change (ok false: nobody holds the lease).
	OnChange func(info Info, ok bool)
	// Now is the clock (default time.Now). It must be monotonic, as
	// time.Now is.
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer, when set, receives the lease's metrics.
	Registerer prometheus.Registerer
	// BeforeRenew, when set, is called before each renewal; tests block
	// it to simulate a paused process.
	BeforeRenew func()
}

// Lease is one replica's side of the lease. Run takes part in the
// election; Held and Current may be called from any goroutine.
type Lease struct {
	opt     Options
	every   time.Duration // between renewals
	poll    time.Duration // between attempts to take the lease
	base    time.Time     // Held's origin on the monotonic clock
	metrics metrics

	// deadline is the local deadline, as nanoseconds after base; 0 when
	// not held.
	deadline atomic.Int64
	// term is the value written while this replica holds the lease
	// (Run's goroutine only).
	term Info

	mu      sync.Mutex // guards current
	current Info
	known   bool
	warned  bool // a failure was logged and not yet followed by a success
}

// New returns the lease for opt; Run takes part.
func New(opt Options) *Lease {
	if opt.Key == "" {
		opt.Key = DefaultKey
	}
	if opt.TTL <= 0 {
		opt.TTL = DefaultTTL
	}
	if opt.Margin <= 0 || opt.Margin >= opt.TTL/2 {
		opt.Margin = opt.TTL / 5
	}
	if opt.ID == "" {
		opt.ID = NewID()
	}
	if opt.Rules == nil {
		opt.Rules = func() string { return "" }
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Lease{opt: opt, every: opt.TTL / 3, poll: opt.TTL / 4, base: opt.Now(), metrics: newMetrics(opt.Registerer)}
}

// NewID returns a replica id: host name, process id and a random suffix
// (a restarted process with a reused pid is another replica).
func NewID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ID returns this replica's id.
func (l *Lease) ID() string { return l.opt.ID }

// TTL returns the lease time.
func (l *Lease) TTL() time.Duration { return l.opt.TTL }

// Held reports whether this replica holds the lease now: it has taken it
// and the local deadline has not passed. It reads the clock and an atomic
// value, so the engine can check it before every record.
func (l *Lease) Held() bool {
	d := l.deadline.Load()
	return d != 0 && l.opt.Now().Sub(l.base) < time.Duration(d)
}

// remaining returns the time left before the local deadline (<= 0 when
// not held).
func (l *Lease) remaining() time.Duration {
	d := l.deadline.Load()
	if d == 0 {
		return 0
	}
	return time.Duration(d) - l.opt.Now().Sub(l.base)
}

// extend moves the deadline to sent + TTL - Margin, sent being when the
// successful write was sent: the server stamped it later, so the key
// lives at least until sent + TTL.
func (l *Lease) extend(sent time.Time) {
	l.deadline.Store(int64(sent.Sub(l.base) + l.opt.TTL - l.opt.Margin))
}

// drop ends this replica's hold.
func (l *Lease) drop() { l.deadline.Store(0) }

// Current returns the lease's value as last seen (written by this
// replica, read or watched), and false when nobody held it then.
func (l *Lease) Current() (Info, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current, l.known
}

// observe records the value seen and tells OnChange when it changed.
func (l *Lease) observe(info Info, ok bool) {
	l.mu.Lock()
	before := l.current.Holder
	changed := ok != l.known || info.Holder != l.current.Holder || info.Rules != l.current.Rules || !info.Since.Equal(l.current.Since)
	l.current, l.known = info, ok
	l.mu.Unlock()
	if !changed {
		return
	}
	if ok && info.Holder != l.opt.ID && info.Holder != before {
		l.opt.Logger.Info("the rules engine runs on another replica", "holder", info.Holder, "since", info.Since, "rules", info.Rules)
	}
	if l.opt.OnChange != nil {
		l.opt.OnChange(info, ok)
	}
}

// observeEntry records the value of a KV entry; an entry that is no value
// (deleted, purged, expired) means nobody holds the lease.
func (l *Lease) observeEntry(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		l.observe(Info{}, false)
		return
	}
	var info Info
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		l.opt.Logger.Warn("unreadable lease value", "key", l.opt.Key, "err", err)
		return
	}
	l.observe(info, true)
}

// failed logs the first of a run of failures to reach the bucket.
func (l *Lease) failed(what string, err error) {
	l.mu.Lock()
	first := !l.warned
	l.warned = true
	l.mu.Unlock()
	if first {
		l.opt.Logger.Warn("lease: "+what+" failed; retrying", "key", l.opt.Key, "err", err)
	}
}

// worked ends a run of failures.
func (l *Lease) worked() {
	l.mu.Lock()
	was := l.warned
	l.warned = false
	l.mu.Unlock()
	if was {
		l.opt.Logger.Info("lease: the bucket answers again", "key", l.opt.Key)
	}
}

func encode(info Info) []byte {
	b, err := json.Marshal(info)
	if err != nil {
		panic(err) // strings and a time: cannot fail
	}
	return b
}

// bounded returns a context for one request to the bucket: it ends with
// ctx, and after d (at least a millisecond, so a request is always sent).
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(d, time.Millisecond))
}
