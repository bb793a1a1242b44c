package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

const snapshotRules = `
version: 1
rules:
  - name: plain-limited
    on: click
    limit: {by: email, max: 2, per: 1h}
    do: [{slack: {text: "{{ email }} clicked {{ url }}"}}]
  - name: seq
    on: open
    after: {event: sent, within: 2h}
    do: [{slack: {text: "{{ email }} opened {{ prev.CustomID }}"}}]
  - name: seq-early
    on: click
    after: {event: open, within: 2h}
    do: [{slack: {text: "{{ email }} clicked after opening"}}]
  - name: absent
    on: sent
    unless: {event: open, within: 1h}
    do: [{slack: {text: "no open from {{ email }} ({{ CustomID }})"}}]
  - name: spike
    on: [sent, blocked]
    group_by: domain
    window: 10m
    when: count() >= 4 && ratio(event == "blocked") >= 0.5
    repeat: 5m
    do: [{slack: {text: "{{ group }} {{ count() }} {{ distinct(email) }} {{ avg(mj_campaign_id) }}"}}]
    on_resolve: [{slack: {text: "{{ group }} ok"}}]
  - name: milestone
    on: sent
    group_by: domain
    every: 3
    do: [{slack: {text: "{{ group }} {{ count }}"}}]
`

// snapshotInput is a deterministic mix of every state kind: pending
// timers, predecessors, early successors, windows, counters and limits.
func snapshotInput() []func(e *Engine) []Firing {
	t0 := time.Unix(1700000000, 0).UTC()
	var steps []func(e *Engine) []Firing
	for i := 0; i < 400; i++ {
		at := t0.Add(time.Duration(i) * 37 * time.Second)
		id := int64(1000 + i/3)
		dom := fmt.Sprintf("d%d.com", i%5)
		email := fmt.Sprintf("u%d@%s", i%23, dom)
		types := []string{"sent", "open", "click", "blocked", "sent", "open"}
		ev := Event{Type: types[i%len(types)], MessageID: id, Email: email, Domain: dom, CustomID: fmt.Sprintf("c%d", i%7),
			URL: fmt.Sprintf("https://x/%d", i%4), CampaignID: int64(i % 9), Time: at.Unix(), Received: at}
		steps = append(steps, func(e *Engine) []Firing { return e.Event(&ev, uint64(i+1)) })
		if i%10 == 0 {
			steps = append(steps, func(e *Engine) []Firing { return e.Tick(at.Add(time.Second), uint64(i+1)) })
		}
	}
	return steps
}

func runSteps(e *Engine, steps []func(*Engine) []Firing) []byte {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for _, step := range steps {
		for _, f := range step(e) {
			_ = enc.Encode(f)
		}
	}
	return out.Bytes()
}

// A snapshot taken at any point, restored into a new engine, continues with
// exactly the firings of an engine that never stopped.
func TestSnapshotRestoreContinuesIdentically(t *testing.T) {
	rs, err := Parse("rules.yaml", []byte(snapshotRules), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	steps := snapshotInput()
	want := runSteps(New(rs, Options{}), steps)
	if bytes.Count(want, []byte("\n")) < 50 {
		t.Fatalf("the input fires too little to test anything: %d firings", bytes.Count(want, []byte("\n")))
	}
	for _, cut := range []int{1, 57, 200, 333, len(steps) - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			first := New(rs, Options{})
			got := runSteps(first, steps[:cut])
			snap := first.Snapshot()
			second := New(rs, Options{})
			if err := second.Restore(snap); err != nil {
				t.Fatal(err)
			}
			if again := second.Snapshot(); !bytes.Equal(again, snap) {
				t.Fatal("snapshot of a restored engine differs from the snapshot it was restored from")
			}
			got = append(got, runSteps(second, steps[cut:])...)
			if !bytes.Equal(got, want) {
				t.Errorf("firings after restore differ from an uninterrupted run:\n got %d bytes\nwant %d bytes", len(got), len(want))
			}
			whole := New(rs, Options{})
			runSteps(whole, steps)
			if g, w := fmt.Sprint(second.Stats()), fmt.Sprint(whole.Stats()); g != w {
				t.Errorf("stats after restore:\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// A truncated or corrupt snapshot is refused and leaves the engine as it
// was.
func TestSnapshotCorrupt(t *testing.T) {
	rs, err := Parse("rules.yaml", []byte(snapshotRules), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := New(rs, Options{})
	runSteps(e, snapshotInput()[:150])
	snap := e.Snapshot()
	flipped := bytes.Clone(snap)
	flipped[len(flipped)/2] ^= 0x40
	for name, data := range map[string][]byte{
		"truncated": snap[:len(snap)/2],
		"corrupt":   flipped,
		"empty":     nil,
		"other":     []byte("not a snapshot at all"),
	} {
		t.Run(name, func(t *testing.T) {
			target := New(rs, Options{})
			runSteps(target, snapshotInput()[:10])
			before := target.Snapshot()
			err := target.Restore(data)
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("Restore = %v, want ErrSnapshot", err)
			}
			if !bytes.Equal(target.Snapshot(), before) {
				t.Error("a failed restore changed the engine")
			}
		})
	}
}

// A restore under changed rules keeps the state of unchanged rules only.
func TestSnapshotRestoreWithChangedRules(t *testing.T) {
	rs, _ := Parse("rules.yaml", []byte(snapshotRules), ParseOptions{})
	e := New(rs, Options{})
	runSteps(e, snapshotInput()[:100])
	changed := bytes.Replace([]byte(snapshotRules), []byte("every: 3"), []byte("every: 4"), 1)
	rs2, err := Parse("rules.yaml", changed, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e2 := New(rs2, Options{})
	if err := e2.Restore(e.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if got := e2.byRule["milestone"].(*every).counts; len(got) != 0 {
		t.Errorf("changed every rule kept its counts: %v", got)
	}
	a2, a1 := e2.byRule["absent"].(*absence), e.byRule["absent"].(*absence)
	if got, want := len(a2.keys.sorted(a2.col)), len(a1.keys.sorted(a1.col)); got != want || got == 0 {
		t.Errorf("unchanged absence rule has %d pending timers, want %d (> 0)", got, want)
	}
}

// v1Rules are snapshotRules and a second rule waiting for the same
// predecessors as seq: in a version 1 snapshot each kept its own.
const v1Rules = snapshotRules + `  - name: seq-twin
    on: click
    after: {event: sent, within: 2h}
    do: [{slack: {text: "{{ email }} clicked {{ prev.CustomID }}"}}]
`

// A version 1 snapshot (testdata/snapshot-v1.bin: v1Rules after the first
// 200 steps of snapshotInput, written by revision 317a58d) restores: the
// engine then continues exactly as one that never stopped.
func TestRestoreVersion1(t *testing.T) {
	rs, err := Parse("rules.yaml", []byte(v1Rules), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	steps := snapshotInput()
	whole := New(rs, Options{})
	runSteps(whole, steps[:200])
	want := runSteps(whole, steps[200:])
	restored := New(rs, Options{})
	if err := restored.Restore(data); err != nil {
		t.Fatal(err)
	}
	if got := runSteps(restored, steps[200:]); !bytes.Equal(got, want) {
		t.Errorf("after a version 1 snapshot:\n%s\nwant:\n%s", got, want)
	}
	if bytes.Count(want, []byte(`"seq-twin"`)) == 0 || bytes.Count(want, []byte(`"rule":"seq"`)) == 0 {
		t.Errorf("the continuation fires neither sharing rule: the test proves nothing")
	}
}

// An absence's early unless events survive a snapshot beside its timers:
// after the restore, the early open still cancels its send, and the send
// without one still fires.
func TestSnapshotAbsenceEarlyEvents(t *testing.T) {
	rs, err := Parse("rules.yaml", []byte(`version: 1
rules:
  - name: absent
    on: sent
    unless: {event: open, within: 1h}
    do: [{slack: {text: "no open of {{ MessageID }}"}}]
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0).UTC()
	ev := func(typ string, id int64, at time.Duration) *Event {
		return &Event{Type: typ, MessageID: id, Email: "a@x.com", Received: t0.Add(at)}
	}
	first := New(rs, Options{})
	first.Event(ev("open", 1, 0), 1)           // early: its send comes later
	first.Event(ev("sent", 2, time.Minute), 2) // a timer
	a := first.byRule["absent"].(*absence)
	if n := len(a.keys.sorted(a.col)); n != 2 {
		t.Fatalf("%d keys, want an early open and a timer", n)
	}
	snap := first.Snapshot()
	second := New(rs, Options{})
	if err := second.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if again := second.Snapshot(); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of the restored engine differs")
	}
	if f := second.Event(ev("sent", 1, 2*time.Minute), 3); len(f) != 0 {
		t.Fatalf("firings %v", f)
	}
	f := second.Tick(t0.Add(3*time.Hour), 4)
	if len(f) != 1 || !bytes.Equal(f[0].Actions[0].Params, []byte(`{"text":"no open of 2"}`)) {
		t.Fatalf("after the deadlines: %+v, want the firing for message 2 alone", f)
	}
}

// A limit's memory of firings is dropped once its period has passed, for
// every kind of rule, with or without events: the runners that only
// advance for their limit are advanced too.
func TestLimitForgetsAfterItsPeriod(t *testing.T) {
	rs, err := Parse("rules.yaml", []byte(`version: 1
rules:
  - name: plain
    on: click
    limit: {by: email, max: 1, per: 1h}
    do: [{slack: {text: "{{ email }}"}}]
  - name: window
    on: blocked
    group_by: domain
    window: 1m
    when: count() >= 1
    limit: {by: group, max: 1, per: 1h}
    do: [{slack: {text: "{{ group }}"}}]
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0).UTC()
	e := New(rs, Options{})
	e.Event(&Event{Type: "click", MessageID: 1, Email: "a@x.com", Received: t0}, 1)
	e.Event(&Event{Type: "blocked", MessageID: 2, Email: "b@y.com", Domain: "y.com", Received: t0}, 2)
	for _, name := range []string{"plain", "window"} {
		if n := e.bases[e.byRule[name].rule()].lim.keys(); n != 1 {
			t.Fatalf("%s: the limit remembers %d keys after firing, want 1", name, n)
		}
	}
	e.Tick(t0.Add(2*time.Hour), 3)
	for _, name := range []string{"plain", "window"} {
		if n := e.bases[e.byRule[name].rule()].lim.keys(); n != 0 {
			t.Errorf("%s: the limit still remembers %d keys after its period", name, n)
		}
	}
}

// A limit of one firing a period (kept as one time per key) holds across a
// snapshot, and frees its key when the period ends.
func TestLimitOneSnapshot(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(`version: 1
rules:
  - name: once
    on: click
    limit: {by: email, max: 1, per: 1h}
    do: [{slack: {text: "{{ email }}"}}]
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0).UTC()
	click := func(id int64, email string, at time.Duration) *Event {
		return &Event{Type: "click", MessageID: id, Email: email, Received: t0.Add(at)}
	}
	e := New(rs, Options{})
	if n := len(e.Event(click(1, "a@x.com", 0), 1)); n != 1 {
		t.Fatalf("first click: %d firings", n)
	}
	again := New(rs, Options{})
	if err := again.Restore(e.Snapshot()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		ev   *Event
		want int
	}{
		{click(2, "a@x.com", 30*time.Minute), 0}, // within the hour
		{click(3, "b@x.com", 30*time.Minute), 1}, // another key
		{click(4, "a@x.com", time.Hour), 1},      // the hour has passed
		{click(5, "a@x.com", 90*time.Minute), 0},
	}
	for i, s := range steps {
		if n := len(again.Event(s.ev, uint64(i+2))); n != s.want {
			t.Errorf("click %d of %s at +%s: %d firings, want %d", s.ev.MessageID, s.ev.Email, s.ev.Received.Sub(t0), n, s.want)
		}
	}
	again.Tick(t0.Add(3*time.Hour), 10)
	if n := again.bases[again.byRule["once"].rule()].lim.keys(); n != 0 {
		t.Errorf("the limit remembers %d keys after its period, want 0", n)
	}
}
