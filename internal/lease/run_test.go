package lease

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/streams/streamstest"
)

// Three replicas on a 3-server cluster: one holds the lease, the others
// know which; when the holder shuts down it releases the lease and
// another takes it without waiting for the TTL.
func TestElectionAndHandOver(t *testing.T) {
	cl := streamstest.StartCluster(t, 3)
	var rs []*replica
	for i := range 3 {
		rs = append(rs, run(t, Options{KV: bucket(t, cl.URLs[i:i+1], testTTL), ID: string(rune('a' + i))}))
	}
	watchOverlap(t, rs)
	first := waitAcquired(t, rs, 10*time.Second)
	for _, r := range rs {
		waitUntil(t, 5*time.Second, "every replica to know the holder", func() bool {
			info, ok := r.l.Current()
			return ok && info.Holder == first.l.ID()
		})
	}
	if h := holders(rs); len(h) != 1 || h[0] != first {
		t.Fatalf("%d replicas hold the lease; want only the one running onAcquire", len(h))
	}

	start := time.Now()
	first.stop()
	second := waitAcquired(t, without(rs, first), 5*time.Second)
	took := time.Since(start)
	t.Logf("hand-over after a shutdown: %v", took)
	if took >= testTTL {
		t.Errorf("hand-over took %v, want less than the TTL (%v): the lease was not released", took, testTTL)
	}
	if got := first.metric(t, "herald_lease_changes_total", "released"); got != 1 {
		t.Errorf("released = %v on the old holder, want 1", got)
	}
	if a, h := first.metric(t, "herald_lease_changes_total", "acquired"), first.metric(t, "herald_lease_held", ""); a != 1 || h != 0 {
		t.Errorf("old holder: acquired %v, held %v; want 1, 0", a, h)
	}
	if h := second.metric(t, "herald_lease_held", ""); h != 1 {
		t.Errorf("new holder: held %v, want 1", h)
	}
}

// A holder that stops renewing (paused, or cut off from NATS) stops
// considering itself the holder before its key expires; then another
// replica takes over, and the old one, when it wakes up, neither renews
// nor deletes the new holder's key.
func TestStalledHolderExpires(t *testing.T) {
	cl := streamstest.StartCluster(t, 1)
	kv := bucket(t, cl.URLs, testTTL)
	wake := make(chan struct{})
	var stalled atomic.Bool
	a := run(t, Options{KV: kv, ID: "a", BeforeRenew: func() {
		if stalled.Load() {
			<-wake
		}
	}})
	waitAcquired(t, []*replica{a}, 5*time.Second)
	stalled.Store(true)
	b := run(t, Options{KV: kv, ID: "b"})
	rs := []*replica{a, b}
	watchOverlap(t, rs)

	start := time.Now()
	waitAcquired(t, []*replica{b}, 5*testTTL)
	t.Logf("take-over after the holder stalled: %v", time.Since(start))
	if a.l.Held() {
		t.Fatal("the stalled holder still considers itself the holder after another took over")
	}
	close(wake)
	waitUntil(t, 5*time.Second, "the stalled holder to notice", func() bool { return !a.running.Load() })
	if got := a.metric(t, "herald_lease_changes_total", "lost"); got != 1 {
		t.Errorf("lost = %v, want 1", got)
	}
	e, err := kv.Get(context.Background(), DefaultKey)
	if err != nil {
		t.Fatalf("the new holder's key: %v", err)
	}
	var info Info
	if err := json.Unmarshal(e.Value(), &info); err != nil || info.Holder != "b" || !b.l.Held() {
		t.Errorf("after the old holder woke up: key %s (%v), b held %v; want b's", e.Value(), err, b.l.Held())
	}
}

// A holder whose clock jumps past its deadline (a paused process: the
// monotonic clock runs on while it sleeps) stops being the holder at once,
// before any renewal fails, and hands the lease over.
func TestPausedHolderStopsAtItsDeadline(t *testing.T) {
	cl := streamstest.StartCluster(t, 1)
	kv := bucket(t, cl.URLs, testTTL)
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	a := run(t, Options{KV: kv, ID: "a", Now: now})
	waitAcquired(t, []*replica{a}, 5*time.Second)
	b := run(t, Options{KV: kv, ID: "b"})
	rs := []*replica{a, b}
	watchOverlap(t, rs)
	if !a.l.Held() {
		t.Fatal("a does not hold the lease")
	}

	skew.Store(int64(testTTL))
	if a.l.Held() {
		t.Fatal("Held is true past the local deadline")
	}
	waitUntil(t, testTTL, "a's onAcquire to be cancelled", func() bool { return !a.running.Load() })
	// a waits TTL/4 before it competes again; keep it from doing so.
	a.stop()
	if got := a.metric(t, "herald_lease_changes_total", "lost"); got != 1 {
		t.Errorf("lost = %v, want 1", got)
	}
	waitAcquired(t, []*replica{b}, 5*testTTL)
}

// Another writer of the key (a replica that took it after an expiry this
// replica did not see) ends the lease at the next renewal, and the key is
// left alone.
func TestTakenOverKey(t *testing.T) {
	cl := streamstest.StartCluster(t, 1)
	kv := bucket(t, cl.URLs, testTTL)
	a := run(t, Options{KV: kv, ID: "a"})
	waitAcquired(t, []*replica{a}, 5*time.Second)
	intruder := encode(Info{Holder: "intruder", Since: time.Now().UTC()})
	if _, err := kv.Put(context.Background(), DefaultKey, intruder); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "a to stop", func() bool { return !a.running.Load() && !a.l.Held() })
	info, ok := a.l.Current()
	if !ok || info.Holder != "intruder" {
		t.Errorf("a sees holder %q (%v), want intruder", info.Holder, ok)
	}
	e, err := kv.Get(context.Background(), DefaultKey)
	if err != nil || string(e.Value()) != string(intruder) {
		t.Errorf("the key after a lost its lease: %v; want the intruder's value", err)
	}
}

// The holder writes its rules version into the value at each renewal;
// the others see it change.
func TestRulesVersionReachesOthers(t *testing.T) {
	cl := streamstest.StartCluster(t, 1)
	kv := bucket(t, cl.URLs, testTTL)
	var version atomic.Value
	version.Store("v1")
	a := run(t, Options{KV: kv, ID: "a", Rules: func() string { return version.Load().(string) }})
	waitAcquired(t, []*replica{a}, 5*time.Second)
	var mu sync.Mutex
	var seen []string
	b := run(t, Options{KV: kv, ID: "b", OnChange: func(info Info, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			seen = append(seen, info.Holder+":"+info.Rules)
		}
	}})
	waitUntil(t, 5*time.Second, "b to see v1", func() bool { info, _ := b.l.Current(); return info.Rules == "v1" })
	version.Store("v2")
	waitUntil(t, 5*time.Second, "b to see v2", func() bool { info, _ := b.l.Current(); return info.Rules == "v2" })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "a:v1" || seen[1] != "a:v2" {
		t.Errorf("OnChange saw %q, want [a:v1 a:v2] (once per change)", seen)
	}
}
