package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/lease"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/testutil"
)

// Three replicas, one engine: closing the replica that runs it while
// clients post to the others hands the engine over within the lease time,
// and every acknowledged event is processed exactly once.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server NATS cluster and 3 replicas")
	}
	_, rs := startHerald(t, 3, "a", "b", "c")
	waitHolder(t, rs)
	p := newPoster()
	p.start(rs...)
	p.waitAcked(t, "events to flow", 100)

	// Stop posting to the holder, then close it while the others take
	// events.
	leader := waitHolder(t, rs)
	p.drop(leader)
	rest := others(rs, leader)
	for _, r := range rest {
		r.first.Store(0)
	}
	start := time.Now()
	leader.stop()
	closed := time.Since(start)
	next := waitHolder(t, rest)
	testutil.WaitUntil(t, loaded, "the new holder to process", &next.signals.processed, func() bool { return next.first.Load() != 0 })
	failover := time.Unix(0, next.first.Load()).Sub(start)
	t.Logf("failover: leader Close → new leader processing: %v (Close took %v; lease %v)", failover, closed, clusterLease)
	if failover >= clusterLease {
		t.Errorf("failover took %v, want less than the lease time %v (the lease is released on Close)", failover, clusterLease)
	}
	s, o := p.count()
	p.waitAcked(t, "events to flow to the new holder", s+o+100)
	p.halt()

	if len(p.codes) != 0 {
		t.Errorf("answers other than 200: %v", p.codes)
	}
	next = waitHolder(t, rest)
	sent, opens, missing := next.logEvents(p.acked)
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged events not in the log, e.g. %d", len(missing), missing[0])
	}
	ackedSent, ackedOpens := p.count()
	if sent != ackedSent || opens != ackedOpens {
		t.Errorf("log holds %d sent and %d opens; %d and %d acknowledged", sent, opens, ackedSent, ackedOpens)
	}
	gotSent, gotOpens := checkOnce(t, waitProcessed(t, next, sent, opens))
	if gotSent != sent || gotOpens != opens {
		t.Errorf("firings for %d sent and %d opens, want %d and %d", gotSent, gotOpens, sent, opens)
	}
	t.Logf("%d events acknowledged and processed once; records processed: old holder %d, new holder %d",
		len(p.acked), leader.processed.Load(), next.processed.Load())
}

// Stopping one NATS server of three (the event log's stream leader) while
// clients post: ingest goes on (a 503 at most while the stream elects a
// new leader), nothing acknowledged is lost, and the engine processes
// every event once.
func TestClusterNATSServerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server NATS cluster and 2 replicas")
	}
	cl, rs := startHerald(t, 3, "a", "b")
	waitHolder(t, rs)
	checkReplicated(t, rs[0])
	p := newPoster()
	p.start(rs...)
	p.waitAcked(t, "events to flow", 100)

	info, err := rs[0].m.conn.Log().Stream().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stopped := -1
	for i, s := range cl.Servers {
		if s.Name() == info.Cluster.Leader {
			stopped = i
		}
	}
	if stopped < 0 {
		t.Fatalf("log stream leader %q is none of the servers", info.Cluster.Leader)
	}
	s, o := p.count()
	start := time.Now()
	cl.Stop(stopped)
	p.waitAcked(t, fmt.Sprintf("200 events acknowledged after NATS server %s stopped (ingest stalled)", info.Cluster.Leader), s+o+200)
	t.Logf("200 more events acknowledged %v after stopping %s", time.Since(start), info.Cluster.Leader)
	p.halt()
	t.Logf("answers other than 200: %v", p.codes)

	holder := waitHolder(t, rs)
	sent, opens, missing := holder.logEvents(p.acked)
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged events not in the log, e.g. %d", len(missing), missing[0])
	}
	gotSent, gotOpens := checkOnce(t, waitProcessed(t, holder, sent, opens))
	if gotSent != sent || gotOpens != opens {
		t.Errorf("firings for %d sent and %d opens, want %d and %d", gotSent, gotOpens, sent, opens)
	}
	ackedSent, ackedOpens := p.count()
	t.Logf("acknowledged %d sent, %d opens; in the log and processed once: %d, %d", ackedSent, ackedOpens, sent, opens)
}

// A leader paused in the middle of its work (its engine and its lease
// renewals stopped) loses the engine to another replica when its lease
// runs out; woken up, it processes not one more record, though records
// wait for it, and hands nothing twice to the queue.
func TestClusterPausedLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server NATS cluster and 2 replicas")
	}
	cl := startCluster(t, 3)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, rules, clusterRules)

	var a *replica
	var arm, paused, woke atomic.Bool
	var afterWake atomic.Int64
	var pausedTerm lease.Info // a's term when it paused
	pausedAt := make(chan uint64, 1)
	wake := make(chan struct{})
	a = startReplica(t, cl, rules, "a", engineHooks{
		beforeRenew: func() {
			if paused.Load() {
				<-wake
			}
		},
		processed: func(seq uint64) {
			term, _ := a.m.runner.lease.Current()
			if woke.Load() && sameTerm(term, pausedTerm) {
				afterWake.Add(1) // a record of the paused term, after its deadline
			}
			if arm.Load() && paused.CompareAndSwap(false, true) {
				pausedTerm = term
				pausedAt <- seq
				<-wake
			}
		},
	})
	waitLease(t, "a to run the engine", a, a.m.runner.lease.Held)
	b := startReplica(t, cl, rules, "b", engineHooks{})
	if h := waitHolder(t, []*replica{a, b}); h != a {
		t.Skipf("%s runs the engine: the lease moved while the replicas started (a loaded machine)", h.name)
	}
	var acked atomic.Int64
	post := func(n int) {
		for range n {
			id := acked.Add(1)
			if r := b.post(sentEvent("sent", int(id))); r.code != http.StatusOK {
				t.Fatalf("post to b: %d %s", r.code, r.body)
			}
		}
	}
	post(5)
	testutil.WaitUntil(t, loaded, "a to process them", &a.signals.processed, func() bool { return a.processed.Load() >= 5 })

	arm.Store(true)
	post(1)
	var seq uint64
	select {
	case seq = <-pausedAt:
	case <-time.After(loaded):
		t.Fatal("a did not process the event")
	}
	start := time.Now()
	waitLease(t, "b to take over from the paused a", b, b.m.runner.lease.Held)
	t.Logf("b took over %v after a paused (lease %v)", time.Since(start), clusterLease)
	if a.m.runner.lease.Held() {
		t.Fatal("a still considers itself the holder after b took over")
	}
	post(10)
	testutil.WaitUntil(t, loaded, "b to process everything", &b.signals.processed, func() bool { return len(b.jobs()) == 16 })

	woke.Store(true)
	close(wake)
	// a's lease shows another value only once the paused term's engine
	// has returned (Lease.Run waits for it).
	waitLease(t, "a's paused term to end", a, func() bool {
		info, _ := a.m.runner.lease.Current()
		return !sameTerm(info, pausedTerm)
	})
	if n := afterWake.Load(); n != 0 {
		t.Errorf("a processed %d records after waking up past its deadline", n)
	}
	if m := a.get("/metrics"); !strings.Contains(m.body, `herald_lease_changes_total{change="lost"} 1`) {
		t.Errorf("a's metrics lack one lost lease:\n%s", grepLines(m.body, "herald_lease"))
	}
	if e := a.clusterRules().Engine; e.Here == (e.Holder != a.m.runner.lease.ID()) {
		t.Errorf("a's /api/rules engine = %+v: here and holder disagree", e)
	}
	if pos := a.m.runner.Position(); !a.m.runner.lease.Held() && pos != seq {
		t.Errorf("a's engine moved from %d to %d after waking up", seq, pos)
	}
	holder := waitHolder(t, []*replica{a, b})
	sent, _ := checkOnce(t, waitProcessed(t, holder, int(acked.Load()), 0))
	if sent != int(acked.Load()) {
		t.Errorf("every-sent fired for %d events, want %d", sent, acked.Load())
	}
}

// Each replica reloads its own rules file; one whose rules differ from
// the engine holder's says so (/api/rules, herald_rules_mismatch, one
// warning) until they agree again.
func TestClusterRulesMismatch(t *testing.T) {
	cl := startCluster(t, 1)
	dir := t.TempDir()
	rulesA, rulesB := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeRules(t, rulesA, clusterRules)
	writeRules(t, rulesB, clusterRules)
	a := startReplica(t, cl, rulesA, "a", engineHooks{})
	waitLease(t, "a to run the engine", a, a.m.runner.lease.Held)
	b := startReplica(t, cl, rulesB, "b", engineHooks{})
	if h := waitHolder(t, []*replica{a, b}); h != a {
		t.Skipf("%s runs the engine: the lease moved while the replicas started (a loaded machine)", h.name)
	}
	if e := b.clusterRules().Engine; e.RulesMismatch || e.HolderRules != a.m.runner.Version() {
		t.Fatalf("same rules: b's engine section %+v", e)
	}

	changed := clusterRules + "  - name: clicked\n    on: click\n    do: [{slack: {text: click}}]\n"
	writeRules(t, rulesB, changed)
	testutil.WaitUntil(t, loaded, "b to report the mismatch", &b.signals.reloaded, func() bool { return b.clusterRules().Engine.RulesMismatch })
	if m := b.get("/metrics"); !strings.Contains(m.body, "herald_rules_mismatch 1") {
		t.Errorf("b's metrics: %s", grepLines(m.body, "herald_rules_mismatch"))
	}
	if e := a.clusterRules().Engine; e.RulesMismatch {
		t.Errorf("the holder reports a mismatch with itself: %+v", e)
	}

	writeRules(t, rulesA, changed)
	// a writes its new rules version at its next renewal; b's watch sees it.
	waitLease(t, "b to see the holder run its rules", b, func() bool { return !b.clusterRules().Engine.RulesMismatch })
	if m := b.get("/metrics"); !strings.Contains(m.body, "herald_rules_mismatch 0") {
		t.Errorf("b's metrics: %s", grepLines(m.body, "herald_rules_mismatch"))
	}
	if n := strings.Count(b.logs.String(), "the rules loaded here differ"); n != 1 {
		t.Errorf("b warned %d times about the mismatch, want once", n)
	}
}

// checkReplicated checks that the streams and buckets herald made on a
// 3-server cluster have 3 replicas, and the lease bucket its TTL.
func checkReplicated(t *testing.T, r *replica) {
	t.Helper()
	ctx := context.Background()
	if n := r.m.conn.Replicas(); n != 3 {
		t.Errorf("replicas = %d, want 3 on a 3-server cluster", n)
	}
	for _, name := range []string{streams.StreamLog, "KV_" + lease.Bucket} {
		s, err := r.m.conn.JetStream().Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c := s.CachedInfo().Config
		if c.Replicas != 3 {
			t.Errorf("stream %s: %d replicas, want 3", name, c.Replicas)
		}
		if name != streams.StreamLog && (c.MaxAge != clusterLease || c.SubjectDeleteMarkerTTL != clusterLease) {
			t.Errorf("lease bucket: max age %v, marker TTL %v; want the lease time %v", c.MaxAge, c.SubjectDeleteMarkerTTL, clusterLease)
		}
	}
}

// sameTerm reports whether two lease values are of one holder's term.
func sameTerm(x, y lease.Info) bool { return x.Holder == y.Holder && x.Since.Equal(y.Since) }

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(out)
}
