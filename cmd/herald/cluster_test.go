package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/pipeline"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/streams/streamstest"
	"github.com/heraldmail/herald/internal/testutil"
)

// This file runs herald as a cluster: three in-process NATS servers with
// routes on loopback, and several Mains sharing them, one of which runs
// the engine under the lease.

// clusterLease is the lease time in these tests (10 s in production).
const clusterLease = 2 * time.Second

// clusterRules has an every-1 rule, whose firings number the sent events
// the engine counted (a gap or a repeat shows an event lost or counted
// twice), and a plain rule, one firing per open.
const clusterRules = `version: 1
rules:
  - name: every-sent
    on: sent
    every: 1
    do: [{slack: {text: "{{ count }}"}}]
  - name: opened
    on: open
    do: [{slack: {text: "{{ email }}"}}]
`

// replica is a daemon of the cluster and what its engine did.
type replica struct {
	*daemon
	name      string
	processed atomic.Int64 // log records its engine processed
	first     atomic.Int64 // when it processed its first record (unix ns), 0 before
}

// testCluster is a NATS cluster for herald replicas, with the signals
// their engine hooks fire: shared, so that a wait on several replicas
// wakes whichever moved.
type testCluster struct {
	*streamstest.Cluster
	signals
}

// startCluster starts n NATS servers on loopback.
func startCluster(t *testing.T, n int) *testCluster {
	return &testCluster{Cluster: streamstest.StartCluster(t, n)}
}

// startHerald starts n NATS servers and, for each of names, a herald
// replica using all of them.
func startHerald(t *testing.T, servers int, names ...string) (*testCluster, []*replica) {
	t.Helper()
	cl := startCluster(t, servers)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, rules, clusterRules)
	var rs []*replica
	for _, name := range names {
		rs = append(rs, startReplica(t, cl, rules, name, engineHooks{}))
	}
	return cl, rs
}

// startReplica starts one herald replica on the cluster; hooks.processed
// is wrapped to count the records its engine processes, and every hook
// fires the cluster's signals.
func startReplica(t *testing.T, cl *testCluster, rules, name string, hooks engineHooks) *replica {
	t.Helper()
	cfg := testConfig(t)
	cfg.NATS = cl.URL()
	cfg.Rules = rules
	r := &replica{name: name}
	inner := hooks.processed
	hooks.processed = func(seq uint64) {
		r.first.CompareAndSwap(0, time.Now().UnixNano())
		r.processed.Add(1)
		if inner != nil {
			inner(seq)
		}
	}
	hooks = cl.hooks(hooks)
	hooks.leaseTTL = clusterLease
	logs := &testutil.Buffer{}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	m.hooks = hooks
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("replica %s: Run: %v\n%s", name, err, logs)
	}
	r.daemon = &daemon{t: t, m: m, base: "http://" + m.Addr(), logs: logs, client: &http.Client{Timeout: 30 * time.Second}, signals: &cl.signals}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("replica %s (%s) log:\n%s", name, m.runner.lease.ID(), logs)
		}
	})
	return r
}

// clusterRulesInfo decodes GET /api/rules on a replica.
func (d *daemon) clusterRules() rulesInfo {
	d.t.Helper()
	r := d.get("/api/rules")
	if r.code != http.StatusOK {
		d.t.Fatalf("GET /api/rules: %d %s", r.code, r.body)
	}
	var info rulesInfo
	if err := json.Unmarshal([]byte(r.body), &info); err != nil {
		d.t.Fatalf("%v in %s", err, r.body)
	}
	return info
}

// loaded bounds the waits that a loaded machine slows down (3 NATS
// servers and several replicas in one process, maybe under -race); they
// end as soon as their condition holds.
const loaded = time.Minute

// waitLease waits until cond, a condition on the replicas' leases, holds:
// it checks cond again each time a replica of r's cluster sees its
// lease's value change. A lease that is taken, renewed, released or lost
// changes the value some replica sees (Lease.Held turns false on a
// deadline, but before another replica can take the lease, which it then
// tells).
func waitLease(t *testing.T, what string, r *replica, cond func() bool) {
	t.Helper()
	testutil.WaitUntil(t, loaded, what, &r.signals.lease, cond)
}

// waitHolder waits until exactly one of rs runs the engine and every
// replica names it in /api/rules and /readyz, and returns it.
func waitHolder(t *testing.T, rs []*replica) *replica {
	t.Helper()
	var holder *replica
	waitLease(t, "one replica to hold the engine, and all to know it", rs[0], func() bool {
		holder = nil
		var ids []string
		for _, r := range rs {
			e := r.clusterRules().Engine
			if e.Here {
				if holder != nil {
					t.Fatalf("replicas %s and %s both run the engine", holder.name, r.name)
				}
				holder = r
			}
			ids = append(ids, e.Holder)
		}
		if holder == nil {
			return false
		}
		for _, id := range ids {
			if id != holder.m.runner.lease.ID() {
				return false
			}
		}
		return true
	})
	var ready struct {
		Status string
		Engine engineHolder
	}
	for _, r := range rs {
		resp := r.get("/readyz")
		if err := json.Unmarshal([]byte(resp.body), &ready); err != nil || resp.code != http.StatusOK ||
			ready.Engine.Holder != holder.m.runner.lease.ID() || ready.Engine.Here != (r == holder) {
			t.Fatalf("replica %s: /readyz %d %s; want ready, naming %s", r.name, resp.code, resp.body, holder.name)
		}
	}
	return holder
}

// poster posts events to replicas from one goroutine per target, each
// event a new message (sent and open alternately), and remembers those
// acknowledged.
type poster struct {
	next     atomic.Int64
	mu       sync.Mutex
	acked    map[int64]string // event id → type
	sent     int              // acknowledged sent events
	opens    int              // acknowledged open events
	codes    map[string]int   // answers other than 200: "replica status" → count (status 0: no answer)
	stops    map[*replica]chan struct{}
	wgs      map[*replica]*sync.WaitGroup
	ackedSig testutil.Signal // fired after each acknowledged event
}

func newPoster() *poster {
	return &poster{acked: map[int64]string{}, codes: map[string]int{},
		stops: map[*replica]chan struct{}{}, wgs: map[*replica]*sync.WaitGroup{}}
}

// start posts to each target until drop or halt.
func (p *poster) start(targets ...*replica) {
	for _, r := range targets {
		stop, wg := make(chan struct{}), &sync.WaitGroup{}
		p.stops[r], p.wgs[r] = stop, wg
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p.post(r)
			}
		})
	}
}

// drop stops posting to r and waits for its post in flight.
func (p *poster) drop(r *replica) {
	close(p.stops[r])
	p.wgs[r].Wait()
	delete(p.stops, r)
}

// halt stops posting and waits for the posts in flight.
func (p *poster) halt() {
	for r, stop := range p.stops {
		close(stop)
		delete(p.stops, r)
	}
	for _, wg := range p.wgs {
		wg.Wait()
	}
}

func (p *poster) post(r *replica) {
	id := p.next.Add(1)
	typ := "sent"
	if id%2 == 0 {
		typ = "open"
	}
	code := 0
	resp, err := r.client.Post(r.base+r.m.Config.Webhook.Path, "application/json", strings.NewReader(sentEvent(typ, int(id))))
	if err == nil {
		code = resp.StatusCode
		resp.Body.Close()
	}
	p.mu.Lock()
	if code != http.StatusOK {
		p.codes[fmt.Sprintf("%s %d", r.name, code)]++
		p.mu.Unlock()
		return
	}
	p.acked[id] = typ
	if typ == "sent" {
		p.sent++
	} else {
		p.opens++
	}
	p.mu.Unlock()
	p.ackedSig.Fire()
}

// count returns the acknowledged events by type.
func (p *poster) count() (sent, open int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.opens
}

// waitAcked waits until n events were acknowledged, re-checking after
// each acknowledgement.
func (p *poster) waitAcked(t *testing.T, what string, n int) {
	t.Helper()
	testutil.WaitUntil(t, loaded, what, &p.ackedSig, func() bool { s, o := p.count(); return s+o >= n })
}

// jobs reads every job on HERALD_ACTIONS.
func (d *daemon) jobs() []pipeline.Job {
	d.t.Helper()
	jobs, err := pipeline.Recent(context.Background(), d.m.conn.Actions().Stream(), "", 1<<20)
	if err != nil {
		d.t.Fatal(err)
	}
	return jobs
}

// checkOnce checks the firings: no job id twice; every-sent numbered 1..N
// without a gap or a repeat, N the sent events in the log; one opened
// firing per open event in the log, for each of them. It returns N and
// the opens.
func checkOnce(t *testing.T, jobs []pipeline.Job) (sent, opens int) {
	t.Helper()
	ids := map[string]bool{}
	counts := map[string]bool{}
	emails := map[string]bool{}
	for _, j := range jobs {
		if ids[j.ID] {
			t.Errorf("job %s queued twice", j.ID)
		}
		ids[j.ID] = true
		text := fmt.Sprint(jobParam(t, j, "text"))
		switch j.Rule {
		case "every-sent":
			if counts[text] {
				t.Errorf("every-sent fired twice with count %s: a sent event was counted twice", text)
			}
			counts[text] = true
		case "opened":
			if emails[text] {
				t.Errorf("opened fired twice for %s", text)
			}
			emails[text] = true
		}
	}
	for i := 1; i <= len(counts); i++ {
		if !counts[fmt.Sprint(i)] {
			t.Errorf("every-sent never fired with count %d of %d: a sent event was lost", i, len(counts))
		}
	}
	return len(counts), len(emails)
}

// logEvents returns the events in the log by type, and whether each
// acknowledged event is there.
func (d *daemon) logEvents(acked map[int64]string) (sent, open int, missing []int64) {
	d.t.Helper()
	in := map[string]bool{}
	for _, body := range d.logBodies() {
		var ev struct {
			Event string `json:"event"`
			Email string `json:"email"`
		}
		dec := json.NewDecoder(strings.NewReader(body))
		for dec.More() {
			// A record is one event or, after a group commit, an array.
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				d.t.Fatal(err)
			}
			var evs []json.RawMessage
			if raw[0] == '[' {
				if err := json.Unmarshal(raw, &evs); err != nil {
					d.t.Fatal(err)
				}
			} else {
				evs = append(evs, raw)
			}
			for _, e := range evs {
				if err := json.Unmarshal(e, &ev); err != nil {
					d.t.Fatal(err)
				}
				in[ev.Event+" "+ev.Email] = true
				if ev.Event == "sent" {
					sent++
				} else {
					open++
				}
			}
		}
	}
	for id, typ := range acked {
		if !in[fmt.Sprintf("%s u%d@x.com", typ, id)] {
			missing = append(missing, id)
		}
	}
	return sent, open, missing
}

// logBodies reads every event record of the log, oldest first, with a
// consumer (Log.Last, behind records, reads one record per request).
func (d *daemon) logBodies() []string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), loaded)
	defer cancel()
	l := d.m.conn.Log()
	_, last, err := l.Bounds(ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	var out []string
	errEnd := errors.New("end of the log")
	err = l.Read(ctx, 0, func(r streams.Record) error {
		if !r.Tick {
			out = append(out, string(r.Body))
		}
		if r.Seq >= last {
			return errEnd
		}
		return nil
	})
	if !errors.Is(err, errEnd) {
		d.t.Fatalf("reading the log: %v", err)
	}
	return out
}

// waitProcessed waits until the jobs on the action stream number every
// event in the log, and returns them. It reads them again each time an
// engine processes a record: the engine queues a record's jobs before it
// calls Processed. A read may still miss the newest jobs (the stream
// answers direct gets from any of its replicas, a follower maybe behind);
// then the next clock tick, a record each second, brings another look.
func waitProcessed(t *testing.T, d *replica, sent, opens int) []pipeline.Job {
	t.Helper()
	var jobs []pipeline.Job
	what := fmt.Sprintf("jobs for the %d sent and %d opens in the log", sent, opens)
	testutil.WaitUntil(t, loaded, what, &d.signals.processed, func() bool {
		jobs = d.jobs()
		return len(jobs) >= sent+opens
	})
	return jobs
}

func others(rs []*replica, x *replica) []*replica {
	var out []*replica
	for _, r := range rs {
		if r != x {
			out = append(out, r)
		}
	}
	return out
}
