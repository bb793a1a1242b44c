package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/suppress"
)

const testRules = `
version: 1
rules:
  - name: every-sent
    on: sent
    every: 1
    do: [{slack: {text: "sent {{ count }}"}}]
  - name: no-open
    on: sent
    unless: {event: open, within: 1h}
    do: [{slack: {text: "no open {{ email }}"}}]
`

func openConn(t testing.TB, dir string) *streams.Conn {
	t.Helper()
	c, err := streams.Open(context.Background(), streams.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runnerOptions(t *testing.T, c *streams.Conn, sup Suppressions) Options {
	t.Helper()
	rs, err := engine.Parse("rules.yaml", []byte(testRules), engine.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return Options{Log: c.Log(), Queue: c.Actions(), Actions: c.Actions().Stream(), Rules: rs, Suppress: sup,
		Load: func() (*engine.RuleSet, error) { return rs, nil }}
}

// runUntil runs a runner built by mk until it has processed the log up to
// seq.
func runUntil(t testing.TB, mk func(Options) *Runner, opt Options, seq uint64) *Runner {
	t.Helper()
	reached := make(chan struct{})
	var once sync.Once
	opt.Processed = func(s uint64) {
		if s >= seq {
			once.Do(func() { close(reached) })
		}
	}
	r := mk(opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run stopped: %v", err)
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("engine at %d, want %d", r.Position(), seq)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return r
}

// openSnapshots returns the snapshots store on c, as serve opens it.
func openSnapshots(t *testing.T, c *streams.Conn) *Snapshots {
	t.Helper()
	store, err := c.ObjectStore(context.Background(), "herald_snapshots")
	if err != nil {
		t.Fatal(err)
	}
	return &Snapshots{Store: store}
}

func appendBody(t *testing.T, c *streams.Conn, body string, at time.Time) uint64 {
	t.Helper()
	seq, err := c.Log().Append(context.Background(), []byte(body), at)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func jobIDs(t *testing.T, c *streams.Conn) []string {
	t.Helper()
	jobs, err := Recent(context.Background(), c.Actions().Stream(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := len(jobs) - 1; i >= 0; i-- {
		ids = append(ids, jobs[i].ID)
	}
	return ids
}

type recordedSuppressions struct {
	mu  sync.Mutex
	got []string
}

func (s *recordedSuppressions) AddAll(_ context.Context, list []suppress.Suppression) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range list {
		s.got = append(s.got, x.Reason+":"+x.Email)
	}
	return nil
}

// A restarted engine replays the log and queues nothing twice; timers that
// came due while it was down fire once; duplicates never reach rules.
func TestRunnerRestartQueuesNothingTwice(t *testing.T) {
	dir := t.TempDir()
	c := openConn(t, dir)
	t0 := time.Unix(1700000000, 0)
	appendBody(t, c, `{"event":"sent","time":1,"MessageID":576460765503091475,"email":"a@x.com"}`, t0)
	appendBody(t, c, `[{"event":"sent","time":1,"MessageID":576460765503091476,"email":"b@x.com"},
		{"event":"open","time":2,"MessageID":576460765503091476,"email":"b@x.com"},
		{"event":"sent","time":1,"MessageID":576460765503091475,"email":"a@x.com"}]`, t0.Add(time.Second))
	// The unsub comes twice (Mailjet retried it): one suppression.
	seq := appendBody(t, c, `[{"event":"unsub","time":3,"MessageID":576460765503091476,"email":"b@x.com"},
		{"event":"unsub","time":4,"MessageID":576460765503091476,"email":"b@x.com"}]`, t0.Add(2*time.Second))
	sup := &recordedSuppressions{}
	runUntil(t, New, runnerOptions(t, c, sup), seq)
	first := jobIDs(t, c)
	if len(first) != 2 {
		t.Fatalf("jobs after first run = %v, want 2 every-sent jobs", first)
	}
	if fmt.Sprint(sup.got) != "[unsub:b@x.com]" {
		t.Errorf("suppressions = %v", sup.got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same data; the absence timer of a@x.com comes due.
	c = openConn(t, dir)
	defer c.Close()
	seq, err := c.Log().AppendTick(context.Background(), t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := runUntil(t, New, runnerOptions(t, c, &recordedSuppressions{}), seq)
	second := jobIDs(t, c)
	if len(second) != 3 || fmt.Sprint(second[:2]) != fmt.Sprint(first) {
		t.Fatalf("jobs after restart = %v, want %v plus one no-open job", second, first)
	}
	jobs, _ := Recent(context.Background(), c.Actions().Stream(), "no-open", 10)
	if len(jobs) != 1 || jobs[0].Email != "a@x.com" || jobs[0].Pos.Seq != seq {
		t.Fatalf("no-open jobs = %+v", jobs)
	}
	info, _ := r.Rules(context.Background())
	if st := info.(RulesInfo); st.Dups != 2 || st.Events != 4 {
		t.Errorf("engine events %d duplicates %d, want 4 and 2", st.Events, st.Dups)
	}
}

// With snapshots, a restart restores the state and replays only the log
// after the snapshot, with the same outcome as a full replay: the absence
// timer pending at the snapshot fires once, and nothing is queued twice.
func TestRunnerSnapshotRestart(t *testing.T) {
	dir := t.TempDir()
	c := openConn(t, dir)
	snaps := openSnapshots(t, c)
	t0 := time.Unix(1700000000, 0)
	appendBody(t, c, `{"event":"sent","time":1,"MessageID":576460765503091475,"email":"a@x.com"}`, t0)
	seq := appendBody(t, c, `{"event":"sent","time":1,"MessageID":576460765503091476,"email":"b@x.com"}`, t0.Add(time.Second))
	opt := runnerOptions(t, c, nil)
	opt.Snapshots = snaps
	runUntil(t, New, opt, seq) // the shutdown snapshot covers seq
	if seqs, err := snaps.list(context.Background()); err != nil || len(seqs) == 0 || seqs[0] != seq {
		t.Fatalf("snapshots at %v (%v), want the newest at %d", seqs, err, seq)
	}
	before := jobIDs(t, c)

	tick, err := c.Log().AppendTick(context.Background(), t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var replayed []uint64
	opt = runnerOptions(t, c, nil)
	opt.Snapshots = snaps
	mk := func(o Options) *Runner {
		inner := o.Processed
		o.Processed = func(s uint64) { replayed = append(replayed, s); inner(s) }
		return New(o)
	}
	r := runUntil(t, mk, opt, tick)
	if fmt.Sprint(replayed) != fmt.Sprint([]uint64{tick}) {
		t.Errorf("replayed records %v, want only %d (after the snapshot)", replayed, tick)
	}
	after := jobIDs(t, c)
	if len(after) != len(before)+2 {
		t.Fatalf("jobs %v after %v: want the two no-open firings added", after, before)
	}
	info, _ := r.Rules(context.Background())
	if st := info.(RulesInfo); st.Events != 2 {
		t.Errorf("restored engine counts %d events, want 2", st.Events)
	}
	c.Close()
}

// stoppingSuppressions stops the engine (as SIGTERM does) while it is in
// the middle of a record.
type stoppingSuppressions struct{ stop context.CancelFunc }

func (s stoppingSuppressions) AddAll(context.Context, []suppress.Suppression) error {
	s.stop()
	return nil
}

// A shutdown in the middle of a record lets the record finish, its jobs
// queued, and takes the final snapshot after it.
func TestRunnerStopFinishesTheRecord(t *testing.T) {
	c := openConn(t, t.TempDir())
	defer c.Close()
	snaps := openSnapshots(t, c)
	t0 := time.Unix(1700000000, 0)
	seq := appendBody(t, c, `[{"event":"sent","time":1,"MessageID":576460765503091475,"email":"a@x.com"},
		{"event":"unsub","time":2,"MessageID":576460765503091475,"email":"a@x.com"},
		{"event":"sent","time":3,"MessageID":576460765503091476,"email":"b@x.com"}]`, t0)
	ctx, cancel := context.WithCancel(context.Background())
	opt := runnerOptions(t, c, stoppingSuppressions{stop: cancel})
	opt.Snapshots = snaps
	r := New(opt)
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Position() != seq {
		t.Errorf("engine at %d after the stop, want %d (the record in hand, whole)", r.Position(), seq)
	}
	if ids := jobIDs(t, c); len(ids) != 2 {
		t.Errorf("jobs %v, want the two every-sent jobs of the record", ids)
	}
	if seqs, err := snaps.list(context.Background()); err != nil || len(seqs) == 0 || seqs[0] != seq {
		t.Errorf("snapshots at %v (%v), want the final one at %d", seqs, err, seq)
	}
}

// Records waiting in the log are stored as one unit: their jobs carry the
// unit's first record, which is the restart fence. A record at the head of
// the log is a unit of its own.
func TestRunnerUnits(t *testing.T) {
	c := openConn(t, t.TempDir())
	defer c.Close()
	t0 := time.Unix(1700000000, 0)
	sent := func(i int) uint64 {
		return appendBody(t, c, fmt.Sprintf(`{"event":"sent","time":1,"MessageID":%d,"email":"u%d@x.com"}`, 576460765503091475+i, i), t0)
	}
	for i := range 10 {
		sent(i)
	}
	processed := make(chan uint64, 100)
	opt := runnerOptions(t, c, nil)
	opt.Processed = func(seq uint64) { processed <- seq }
	r := New(opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	until := func(want uint64) {
		t.Helper()
		for {
			select {
			case seq := <-processed:
				if seq >= want {
					return
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("engine at %d, want %d", r.Position(), want)
			}
		}
	}
	units := func() map[string]int {
		t.Helper()
		info, err := c.Actions().Stream().Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := c.Actions().Stream().GetMsg(context.Background(), seq)
			if err != nil {
				t.Fatal(err)
			}
			out[m.Header.Get(HeaderUnit)]++
		}
		return out
	}
	until(10)
	if got := units(); len(got) != 1 || got["1"] != 10 {
		t.Errorf("jobs by unit %v, want the 10 in the unit starting at record 1", got)
	}
	fence, err := lastPosition(context.Background(), c.Actions().Stream())
	if err != nil || fence.Seq != 1 {
		t.Errorf("restart fence %v (%v), want record 1, the unit's first", fence, err)
	}
	last := sent(10)
	until(last)
	if got := units(); got[strconv.FormatUint(last, 10)] != 1 {
		t.Errorf("jobs by unit %v, want the new record's job in a unit of its own", got)
	}
}
