package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/suppress"
	"github.com/heraldmail/herald/internal/webhook"
)

// Log is the event log as the engine reads it. *streams.Log implements it.
type Log interface {
	Read(ctx context.Context, from uint64, fn func(streams.Record) error) error
	AppendTick(ctx context.Context, at time.Time) (uint64, error)
}

// Suppressions records recipients who must get no more Mailjet follow-ups.
// *suppress.Store implements it.
type Suppressions interface {
	AddAll(ctx context.Context, list []suppress.Suppression) error
}

// Options configure a Runner.
type Options struct {
	Log   Log
	Queue Publisher
	// Suppress, when set, is told about unsubscribes, spam complaints,
	// hard bounces and blocks before any later firing is queued.
	Suppress Suppressions
	Actions  jetstream.Stream // the action stream, for the restart fence and /api/firings
	// Load reads and compiles the rules file (for reloads).
	Load    func() (*engine.RuleSet, error)
	Rules   *engine.RuleSet
	Engine  engine.Options
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Processed, when set, is called after each log record with its
	// sequence (tests wait on it).
	Processed func(seq uint64)
	// Snapshots, when set, is where the engine's state is saved every
	// SnapshotEvery (default 1m) and on shutdown, and restored from on
	// start: only the log after the snapshot is replayed.
	Snapshots     *Snapshots
	SnapshotEvery time.Duration
	// FinishGrace is how long a stopping engine goes on with the log
	// record in hand (default 5 s), so that it is applied whole and the
	// final snapshot covers it.
	FinishGrace time.Duration
	// Now is the wall clock that schedules snapshots (default time.Now);
	// the engine itself runs on the log's clock.
	Now func() time.Time
	// Held, when set, says whether this replica may run the engine (it
	// holds the engine's lease). It is checked before each record, before
	// each attempt to queue a job and before each snapshot is stored, so
	// it must be cheap (a local deadline, no network). Once it is false
	// Run stops where it is, without a final snapshot.
	Held func() bool
}

// errNotHeld ends a Run whose lease is lost.
var errNotHeld = errors.New("the engine's lease is no longer held")

// Runner runs the engine over the log. Run owns the engine; the other
// methods (the admin API) may be called concurrently.
type Runner struct {
	opt Options
	log *slog.Logger

	mu   sync.Mutex // guards eng and pos against the API
	eng  *engine.Engine
	stop context.CancelCauseFunc // ends the current Run
	// endWork ends the current record's work at once (finishing); set and
	// used by the engine's goroutine only.
	endWork context.CancelCauseFunc
	pos     uint64 // the last log position processed
	fence   Position
	// The unit being gathered: log records applied to the engine whose
	// suppressions and jobs are not stored yet (process, flush).
	unit    uint64                 // its first record, 0 when none is open
	applied uint64                 // its last record
	batch   []Job                  // its jobs
	supps   []suppress.Suppression // and its suppressions
	events  []engine.Event         // the last record's events, reused for the next
	loadErr error
	// torn is set while a record is being applied and stays set if that
	// was cut short (shutdown): the engine then holds part of a record and
	// must not be snapshotted.
	torn bool

	lastSnap  time.Time  // when the last snapshot was taken
	savedSeq  uint64     // the position of the last snapshot saved
	saving    sync.Mutex // held while a snapshot is written
	snapTimes prometheus.Histogram
	snapBytes prometheus.Gauge
	snapFails prometheus.Counter

	firings    *prometheus.CounterVec
	ruleErrors *prometheus.CounterVec
	position   prometheus.Gauge
	decodeErrs prometheus.Counter
	received   map[string]prometheus.Counter // herald_events_received_total by type, resolved once
}

// New returns a Runner for the rules in opt.Rules.
func New(opt Options) *Runner {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.SnapshotEvery <= 0 {
		opt.SnapshotEvery = time.Minute
	}
	if opt.FinishGrace <= 0 {
		opt.FinishGrace = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &Runner{opt: opt, log: opt.Logger, lastSnap: opt.Now(), received: map[string]prometheus.Counter{}}
	r.eng = r.newEngine(opt.Rules)
	r.registerMetrics()
	return r
}

func (r *Runner) newEngine(rs *engine.RuleSet) *engine.Engine {
	eo := r.opt.Engine
	eo.OnError = r.ruleError
	return engine.New(rs, eo)
}

// reset drops what an earlier Run of this Runner left (a replica that
// held the engine's lease before and takes it again): Run starts from the
// newest snapshot, maybe another replica's, with the rules loaded now.
func (r *Runner) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eng = r.newEngine(r.eng.Rules())
	r.pos, r.savedSeq, r.torn, r.fence, r.lastSnap = 0, 0, false, Position{}, r.opt.Now()
	r.unit, r.applied, r.batch, r.supps = 0, 0, r.batch[:0], r.supps[:0]
}

// held reports whether this replica may run the engine (Options.Held).
func (r *Runner) held() bool { return r.opt.Held == nil || r.opt.Held() }

// checkHeld stops the Run when the lease is lost.
func (r *Runner) checkHeld() error {
	if r.held() {
		return nil
	}
	r.stop(errNotHeld)
	if r.endWork != nil {
		r.endWork(errNotHeld) // another replica may run the engine: no grace
	}
	return errNotHeld
}

func (r *Runner) registerMetrics() {
	r.firings = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_rule_firings_total",
		Help: "Firings by rule (replayed firings that were already queued are not counted)."}, []string{"rule"})
	r.ruleErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_rule_errors_total",
		Help: "Runtime errors of rule expressions and templates, by rule."}, []string{"rule"})
	r.position = prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_engine_log_position",
		Help: "The last event log sequence the engine processed."})
	r.decodeErrs = prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_engine_decode_errors_total",
		Help: "Log records the engine could not decode (skipped)."})
	r.snapTimes = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herald_snapshot_duration_seconds",
		Help: "Time to encode and store an engine snapshot.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)})
	r.snapBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_snapshot_bytes",
		Help: "Size of the last engine snapshot."})
	r.snapFails = prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_snapshot_failures_total",
		Help: "Snapshots that could not be stored (the engine goes on; the next one is tried)."})
	if m := r.opt.Metrics; m != nil {
		m.Registry.MustRegister(r.firings, r.ruleErrors, r.position, r.decodeErrs, r.snapTimes, r.snapBytes, r.snapFails)
	}
}

func (r *Runner) ruleError(rule string, err error) {
	r.ruleErrors.WithLabelValues(rule).Inc()
	r.log.Warn("rule error", "rule", rule, "err", err)
}

// Run restores the newest usable snapshot, replays the log after it (the
// whole log without one) and then follows the log until ctx ends, when it
// takes a last snapshot. Jobs up to the newest one already on the action
// stream are not queued again. While the log or the queue is unavailable
// Run waits and retries; it returns only when ctx ends or Options.Held
// turns false. A Runner may Run again after that (not concurrently): each
// Run starts afresh from the newest snapshot.
func (r *Runner) Run(ctx context.Context) error {
	ctx, r.stop = context.WithCancelCause(ctx)
	defer r.stop(nil)
	r.reset()
	var from uint64
	err := retry(ctx, r.log, "engine start", func() error {
		if r.opt.Actions != nil {
			fence, err := lastPosition(ctx, r.opt.Actions)
			if err != nil {
				return err
			}
			r.fence = fence
		}
		var err error
		from, err = r.restore(ctx)
		return err
	})
	if err != nil {
		return nil // ctx ended
	}
	_ = retry(ctx, r.log, "reading the event log", func() error {
		err := r.opt.Log.Read(ctx, from, func(rec streams.Record) error {
			if err := ctx.Err(); err != nil {
				return err // stopping: no new record
			}
			work, done := r.finishing(ctx, r.opt.FinishGrace)
			defer done()
			return r.process(work, rec)
		})
		// A unit still open (the reader stopped, or Run is stopping) is
		// stored before reading on or taking the final snapshot.
		work, done := r.finishing(ctx, r.opt.FinishGrace)
		if ferr := r.flushOpen(work); ferr != nil && err == nil {
			err = ferr
		}
		done()
		if errors.Is(err, streams.ErrGap) && r.Position() < from {
			// The records after the snapshot expired (log.max_age) while
			// the engine was down: what they held is lost. Go on from what
			// is left.
			r.log.Error("the log no longer holds the records after the snapshot; continuing from the oldest record", "from", from, "err", err)
			from = 0
			return err
		}
		if p := r.Position(); p >= from {
			from = p + 1 // a record is applied whole or not at all: resume after it
		}
		return err
	})
	if errors.Is(context.Cause(ctx), errNotHeld) {
		r.log.Warn("engine stopped: its lease is lost; no final snapshot", "position", r.Position())
	}
	r.finalSnapshot()
	return nil
}

// finishing returns the context for one record's work: it ends grace
// after ctx does, with ctx's cause, or when done is called. A shutdown
// then lets the record finish unless its work is stuck (the action queue
// down, say). A lost lease ends it at once: when ctx ends without the
// lease, and through endWork when checkHeld finds it lost meanwhile.
func (r *Runner) finishing(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var (
		mu       sync.Mutex
		timer    *time.Timer
		finished bool
	)
	stop := context.AfterFunc(ctx, func() {
		if !r.held() {
			cancel(errNotHeld)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			timer = time.AfterFunc(grace, func() { cancel(context.Cause(ctx)) })
		}
	})
	r.endWork = cancel
	return work, func() {
		r.endWork = nil
		stop()
		mu.Lock()
		finished = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(nil)
	}
}

// restore loads the newest usable snapshot and returns where to read from.
func (r *Runner) restore(ctx context.Context) (uint64, error) {
	if r.opt.Snapshots == nil {
		return 0, nil
	}
	start := r.opt.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, err := r.opt.Snapshots.Load(ctx, r.eng.Restore)
	if err != nil {
		return 0, err
	}
	if seq == 0 {
		r.log.Info("no snapshot: replaying the whole log")
		return 0, nil
	}
	r.pos, r.savedSeq, r.lastSnap = seq, seq, r.opt.Now()
	r.log.Info("snapshot restored", "position", seq, "took", r.opt.Now().Sub(start))
	return seq + 1, nil
}

// maybeSnapshot encodes the engine every SnapshotEvery (under the lock
// process holds) and stores it in the background; one at a time.
func (r *Runner) maybeSnapshot(seq uint64) {
	if r.opt.Snapshots == nil || r.opt.Now().Sub(r.lastSnap) < r.opt.SnapshotEvery || !r.saving.TryLock() {
		return
	}
	start := r.opt.Now()
	r.lastSnap = start
	data := r.eng.Snapshot()
	go func() {
		defer r.saving.Unlock()
		r.save(seq, data, start)
	}()
}

func (r *Runner) save(seq uint64, data []byte, start time.Time) {
	if !r.held() {
		// Another replica may run the engine by now and have stored newer
		// snapshots; this one is not needed.
		r.log.Info("snapshot not stored: the engine's lease is lost", "position", seq)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.opt.Snapshots.Save(ctx, seq, data); err != nil {
		r.snapFails.Inc()
		r.log.Error("snapshot not stored", "position", seq, "err", err)
		return
	}
	r.snapTimes.Observe(r.opt.Now().Sub(start).Seconds())
	r.snapBytes.Set(float64(len(data)))
	r.mu.Lock()
	r.savedSeq = max(r.savedSeq, seq)
	r.mu.Unlock()
}

// finalSnapshot stores the state at shutdown, after any snapshot in flight.
func (r *Runner) finalSnapshot() {
	if r.opt.Snapshots == nil {
		return
	}
	r.saving.Lock() // after a background save in flight
	defer r.saving.Unlock()
	if !r.held() {
		return // see save
	}
	r.mu.Lock()
	seq, saved := r.pos, r.savedSeq
	var data []byte
	if seq > saved && !r.torn {
		data = r.eng.Snapshot()
	}
	r.mu.Unlock()
	if data != nil {
		r.save(seq, data, r.opt.Now())
	}
}

// Units. Each unit of log records waits for two round trips to JetStream
// (its suppressions, then its jobs) before the next: with one record a
// unit, those, not the rules, bounded the engine. So while more records
// are waiting in the log (a backlog: after a restart, during a burst) up
// to maxUnitRecords records make one unit; at the head of the log a unit
// is one record, and nothing waits for company. A unit is stored whole
// before the next starts, so only the newest unit on the action queue can
// be incomplete: its first record, in every job's HeaderUnit, is the
// restart fence.
const (
	maxUnitRecords = 64
	maxUnitJobs    = 4096
)

// process feeds one log record to the engine and gathers its suppressions
// and jobs into the open unit, which it stores (flush) unless more records
// are waiting and the unit has room. It returns an error only when ctx
// ends: then the unit may be half done, and Run stops.
func (r *Runner) process(ctx context.Context, rec streams.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkHeld(); err != nil {
		return err
	}
	r.torn = true
	if r.unit == 0 {
		r.unit, r.batch, r.supps = rec.Seq, r.batch[:0], r.supps[:0]
	}
	next := 0
	var firings []engine.Firing
	if rec.Tick {
		firings = r.eng.Tick(rec.Received, rec.Seq)
		r.collect(firings, rec.Seq, &next)
	} else {
		events, err := webhook.DecodeIndexed(r.events, rec.Body, rec.Index, rec.Received)
		r.events = events
		if err != nil {
			r.decodeErrs.Inc()
			r.log.Error("undecodable log record skipped", "seq", rec.Seq, "err", err)
		}
		for i := range events {
			ev := &events[i]
			before := r.eng.Duplicates()
			firings = r.eng.Event(ev, rec.Seq)
			dup := r.eng.Duplicates() > before
			r.countEvent(ev, dup)
			if !dup {
				r.suppression(ev, rec.Seq)
			}
			r.collect(firings, rec.Seq, &next)
		}
	}
	r.applied = rec.Seq
	if rec.Pending > 0 && rec.Seq-r.unit+1 < maxUnitRecords && len(r.batch) < maxUnitJobs {
		return nil // more records are waiting: they join the unit
	}
	return r.flush(ctx)
}

// flushOpen stores the open unit, if any.
func (r *Runner) flushOpen(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unit == 0 {
		return nil
	}
	return r.flush(ctx)
}

// flush stores the open unit's suppressions, then its jobs, and moves the
// position to its last record. r.mu is held.
func (r *Runner) flush(ctx context.Context) error {
	if err := r.storeSuppressions(ctx); err != nil {
		return err
	}
	if err := r.publishBatch(ctx); err != nil {
		return err
	}
	first, last := r.unit, r.applied
	r.unit, r.pos, r.torn = 0, last, false
	r.position.Set(float64(last))
	r.maybeSnapshot(last)
	if r.opt.Processed != nil {
		for seq := first; seq <= last; seq++ {
			r.opt.Processed(seq)
		}
	}
	return nil
}

// suppression notes the event's recipient when the event suppresses it
// (a duplicate's was noted with the original). Records before the fence
// were processed by an earlier run, which stored theirs already.
func (r *Runner) suppression(ev *engine.Event, seq uint64) {
	reason := engine.SuppressReason(ev)
	if reason == "" || r.opt.Suppress == nil || seq < r.fence.Seq {
		return
	}
	r.supps = append(r.supps, suppress.Suppression{Email: ev.Email, Reason: reason, At: ev.Received})
}

// storeSuppressions stores the unit's suppressions, all together, before
// any of its jobs is queued, so the dispatcher's check finds them.
func (r *Runner) storeSuppressions(ctx context.Context) error {
	if len(r.supps) == 0 {
		return nil
	}
	return retry(ctx, r.log, "recording suppressions", func() error {
		if err := r.checkHeld(); err != nil {
			return err
		}
		if err := r.opt.Suppress.AddAll(ctx, r.supps); err != nil {
			return fmt.Errorf("suppressions of records %d to %d: %w", r.unit, r.applied, err)
		}
		return nil
	})
}

func (r *Runner) countEvent(ev *engine.Event, dup bool) {
	m := r.opt.Metrics
	if m == nil {
		return
	}
	c := r.received[ev.Type]
	if c == nil {
		c = m.EventsReceived.WithLabelValues(ev.Type)
		if len(r.received) < 64 { // Mailjet's types, and a few unknown ones
			r.received[ev.Type] = c
		}
	}
	c.Inc()
	if dup {
		m.EventsDuplicate.Inc()
	}
}

// collect adds the firings' jobs to the record's batch, skipping the
// records an earlier run queued whole: those before the fence's record.
// The fence's own record may have been queued in part (its jobs go out
// concurrently), so its jobs are queued again; the queue drops the ones it
// holds by id, and the dispatcher never runs a job already done.
func (r *Runner) collect(firings []engine.Firing, seq uint64, next *int) {
	for i := range firings {
		f := &firings[i]
		for _, j := range jobs(f, seq, next) {
			if seq < r.fence.Seq {
				continue
			}
			r.batch = append(r.batch, j)
		}
	}
}

// publishBatch publishes the record's jobs, all at once without waiting
// for each acknowledgement in turn, and returns when all are stored. A
// record's effect on the engine cannot be undone, so its jobs are
// published whatever it takes (those not acknowledged again, until
// stored; one whose acknowledgement was lost is dropped as a duplicate of
// its id): the engine waits meanwhile. The next record starts only then, so only the newest record
// on the queue can be incomplete.
func (r *Runner) publishBatch(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	msgs := make([]streams.Message, len(r.batch))
	for i := range r.batch {
		m, err := jobMessage(&r.batch[i], r.unit)
		if err != nil {
			return err // a job that cannot be encoded is a bug, not an outage
		}
		msgs[i] = m
	}
	err := retry(ctx, r.log, "queueing firings", func() error {
		if err := r.checkHeld(); err != nil {
			return err
		}
		var err error
		msgs, err = r.opt.Queue.PublishAll(ctx, msgs) // again: only those not stored
		return err
	})
	if err != nil {
		return err
	}
	for _, j := range r.batch {
		if strings.HasSuffix(j.ID, "/0") { // one count per firing, not per action
			r.firings.WithLabelValues(j.Rule).Inc()
		}
	}
	return nil
}

// Reload loads the rules file again. On errors the old rules keep running
// and the errors are returned. Otherwise the new rules are installed
// between two records of the log (process holds the lock for a whole
// record), so no event is lost or processed twice across a reload.
func (r *Runner) Reload(ctx context.Context) (string, error) {
	rs, err := r.opt.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loadErr = err
	if err != nil {
		return "", err
	}
	r.eng.Reload(rs)
	return rs.Version, nil
}

// RuleInfo describes a loaded rule for GET /api/rules.
type RuleInfo struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Kind        string           `json:"kind"`
	On          []string         `json:"on"`
	Mode        string           `json:"mode"`
	Enabled     bool             `json:"enabled"`
	Counters    engine.RuleStats `json:"counters"`
}

// RulesInfo is the answer of GET /api/rules.
type RulesInfo struct {
	File      string     `json:"file"`
	Version   string     `json:"version"`
	Position  uint64     `json:"position"`
	Clock     time.Time  `json:"clock"`
	Events    uint64     `json:"events"`
	Dups      uint64     `json:"duplicates"`
	LastError string     `json:"last_reload_error,omitempty"`
	Rules     []RuleInfo `json:"rules"`
}

// Rules returns the loaded rules with their counters.
func (r *Runner) Rules(context.Context) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := r.eng.Rules()
	st := r.eng.Stats()
	out := RulesInfo{File: rs.File, Version: rs.Version, Position: r.pos, Clock: r.eng.Now(),
		Events: st.Events, Dups: st.Duplicates, Rules: []RuleInfo{}}
	if r.loadErr != nil {
		out.LastError = r.loadErr.Error()
	}
	for _, rule := range rs.Rules {
		mode := "live"
		if rule.Shadow {
			mode = "shadow"
		}
		out.Rules = append(out.Rules, RuleInfo{Name: rule.Name, Description: rule.Description, Kind: rule.Kind.String(),
			On: rule.On, Mode: mode, Enabled: rule.Enabled, Counters: st.Rules[rule.Name]})
	}
	return out, nil
}

// Firings lists recent firings' jobs from the action stream.
func (r *Runner) Firings(ctx context.Context, rule string, limit int) (any, error) {
	if r.opt.Actions == nil {
		return nil, errors.New("no action stream")
	}
	jobs, err := Recent(ctx, r.opt.Actions, rule, limit)
	if err != nil {
		return nil, err
	}
	if jobs == nil {
		jobs = []Job{}
	}
	return jobs, nil
}

// Position returns the last log sequence processed.
func (r *Runner) Position() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pos
}

// String describes the runner for logs.
func (r *Runner) String() string { return fmt.Sprintf("engine at %d", r.Position()) }
