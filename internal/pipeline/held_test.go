package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/suppress"
)

// A Runner whose lease is lost stops before the next record, even though
// its context goes on, and stores no snapshot; run again (the lease taken
// again) it starts afresh from the newest snapshot and queues every job
// exactly once.
func TestRunnerStopsWhenNotHeld(t *testing.T) {
	c := openConn(t, t.TempDir())
	defer c.Close()
	snaps := openSnapshots(t, c)
	t0 := time.Unix(1700000000, 0)
	sent := func(i int) uint64 {
		return appendBody(t, c, fmt.Sprintf(`{"event":"sent","time":1,"MessageID":%d,"email":"u%d@x.com"}`, 576460765503091475+i, i), t0)
	}
	var held atomic.Bool
	held.Store(true)
	var processed, loseAt, waitFor atomic.Uint64
	loseAt.Store(2) // the lease is lost right after record 2
	reached, lost := make(chan struct{}, 1), make(chan struct{}, 1)
	opt := runnerOptions(t, c, nil)
	opt.Snapshots = snaps
	opt.Held = held.Load
	opt.Processed = func(seq uint64) {
		processed.Store(seq)
		if seq == loseAt.Load() {
			held.Store(false)
			lost <- struct{}{}
		}
		if w := waitFor.Load(); w != 0 && seq >= w {
			waitFor.Store(0)
			reached <- struct{}{}
		}
	}
	r := New(opt)
	sent(0)
	sent(1)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	select { // records 1 and 2 (one unit), then the lease is lost
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatalf("engine at %d, want 2", r.Position())
	}
	sent(2) // the next record finds the lease lost
	sent(3)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run goes on after its lease was lost")
	}
	if p := processed.Load(); p != 2 || r.Position() != 2 {
		t.Fatalf("processed up to %d (position %d) after the lease was lost at 2", p, r.Position())
	}
	if seqs, err := snaps.list(context.Background()); err != nil || len(seqs) != 0 {
		t.Fatalf("snapshots %v (%v) stored by a runner without its lease", seqs, err)
	}
	if ids := jobIDs(t, c); len(ids) != 2 {
		t.Fatalf("jobs %v, want the 2 of the records processed", ids)
	}

	// The lease again: the same Runner replays from scratch (no snapshot)
	// without counting anything twice, and queues only the new jobs.
	loseAt.Store(0)
	held.Store(true)
	last := sent(4)
	waitFor.Store(last)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- r.Run(ctx) }()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("engine at %d, want %d", r.Position(), last)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ids := jobIDs(t, c)
	if len(ids) != 5 {
		t.Fatalf("jobs %v, want 5: one per sent event", ids)
	}
	info, _ := r.Rules(context.Background())
	if st := info.(RulesInfo); st.Events != 5 {
		t.Errorf("engine counts %d events, want 5 (state from the earlier run dropped)", st.Events)
	}
}

// losingSuppressions loses the lease in the middle of a record, the way
// the lease does: held turns false and the Run's context is cancelled.
type losingSuppressions struct {
	held   *atomic.Bool
	cancel context.CancelFunc
}

func (s losingSuppressions) AddAll(context.Context, []suppress.Suppression) error {
	s.held.Store(false)
	s.cancel()
	return nil
}

// A lease lost in the middle of a record stops its work at once, without
// the shutdown's grace: the record's jobs are not queued (another replica
// may be running the engine) and it is left to the next holder.
func TestRunnerLeaseLostMidRecord(t *testing.T) {
	c := openConn(t, t.TempDir())
	defer c.Close()
	t0 := time.Unix(1700000000, 0)
	seq := appendBody(t, c, `[{"event":"sent","time":1,"MessageID":576460765503091475,"email":"a@x.com"},
		{"event":"unsub","time":2,"MessageID":576460765503091475,"email":"a@x.com"}]`, t0)
	var held atomic.Bool
	held.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	opt := runnerOptions(t, c, losingSuppressions{held: &held, cancel: cancel})
	opt.Held = held.Load
	opt.FinishGrace = time.Hour // a shutdown would wait this long
	r := New(opt)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the record's work goes on after the lease was lost")
	}
	if r.Position() == seq {
		t.Errorf("the record was applied after the lease was lost")
	}
	if ids := jobIDs(t, c); len(ids) != 0 {
		t.Errorf("jobs %v queued after the lease was lost", ids)
	}
}
