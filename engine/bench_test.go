package engine_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// Throughput targets (issue 3), on one core (-cpu 1):
//
//	go test -run '^$' -bench 'Engine' -cpu 1 -benchtime 2000000x ./engine
//
// rules.example.yaml: ≥ 1,000,000 events/s; 100 mixed rules: ≥ 300,000.

func BenchmarkEngineExample(b *testing.B) {
	benchTraffic(b, loadExample(b))
}

func BenchmarkEngineMixed100(b *testing.B) {
	benchTraffic(b, parse(b, mixedRules(100)))
}

// BenchmarkEngineNoRules is the floor: decoding is not included, so this
// is the clock, the dedup set and the dispatch alone.
func BenchmarkEngineNoRules(b *testing.B) {
	benchTraffic(b, parse(b, "version: 1\nrules: []\n"))
}

// benchTraffic feeds pre-built realistic traffic (trafficOptions) with a
// tick every simulated second and reports events/s (ticks are not
// counted as events). When the stream is used up it is shifted in time
// and ids, untimed, and fed again, so laps are new events, not duplicates.
func benchTraffic(b *testing.B, rs *engine.RuleSet) {
	o := defaultTraffic
	o.events = 1 << 18
	steps := traffic(o)
	lap := time.Duration(o.events/o.perSecond+1) * time.Second
	e := engine.New(rs, engine.Options{})
	firings := 0
	b.ReportAllocs()
	b.ResetTimer()
	n, pos := 0, uint64(0)
	for shift := time.Duration(0); n < b.N; shift += lap {
		if shift > 0 {
			b.StopTimer()
			for _, s := range steps {
				if s.ev != nil {
					s.ev.Received = s.ev.Received.Add(lap)
					s.ev.Time += int64(lap / time.Second)
					s.ev.MessageID += 1 << 40
				}
			}
			b.StartTimer()
		}
		for _, s := range steps {
			pos++
			if s.ev == nil {
				firings += len(e.Tick(t0.Add(s.at+shift), pos))
				continue
			}
			firings += len(e.Event(s.ev, pos))
			if n++; n == b.N {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(firings)/float64(b.N), "firings/event")
}

// Memory of pending entries (issue 3: well under 100 bytes each):
//
//	go test -run '^$' -bench 'Pending' -benchtime 1x ./engine
//
// B/entry is the heap the rule's pending entries take, per entry: the heap
// after 1,000,000 events minus the heap the same events take in an engine
// whose rule matches nothing (the dedup set, which is per event, not per
// entry). B/event is everything the engine keeps per event. snapshot-ms
// and restore-ms time Snapshot and Restore of the engine with the entries.

const pendingEntries = 1_000_000

func BenchmarkPendingAbsence(b *testing.B) {
	benchPending(b, `version: 1
rules:
  - name: reminder
    on: sent
    if: CustomID startsWith "promo-"
    unless: {event: open, within: 24h}
    do: [mailjet: {to: "{{ email }}", template_id: 4243}]
`)
}

func BenchmarkPendingSequence(b *testing.B) {
	benchPending(b, `version: 1
rules:
  - name: discount
    on: open
    if: CustomID startsWith "promo-"
    after: {event: sent, within: 24h}
    do: [mailjet: {to: "{{ email }}", template_id: 4242}]
`)
}

func benchPending(b *testing.B, rules string) {
	rs := parse(b, rules)
	none := parse(b, `version: 1
rules:
  - {name: none, on: spam, do: [slack: {text: x}]}
`)
	emails := make([]string, 5000)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%d@d%02d.test", i, i%50)
	}
	// fill sends distinct promo messages within an hour, so none expires.
	fill := func(e *engine.Engine) {
		ev := engine.Event{Type: engine.TypeSent, CustomID: "promo-spring"}
		for i := range pendingEntries {
			ev.MessageID = 1<<56 + int64(i)
			ev.Email = emails[i%len(emails)]
			ev.Domain = engine.DomainOf(ev.Email)
			ev.Received = t0.Add(time.Duration(i) * time.Hour / pendingEntries)
			ev.Time = ev.Received.Unix()
			e.Event(&ev, uint64(i+1))
		}
	}
	var (
		total, base      float64
		snap, restore    time.Duration
		snapBytes, fired int
		full             *engine.Engine
	)
	for range b.N {
		total = heapGrowth(func() any { full = engine.New(rs, engine.Options{}); fill(full); return full })
		base = heapGrowth(func() any { e := engine.New(none, engine.Options{}); fill(e); return e })
		start := time.Now()
		data := full.Snapshot()
		snap = time.Since(start)
		snapBytes = len(data)
		again := engine.New(rs, engine.Options{})
		start = time.Now()
		if err := again.Restore(data); err != nil {
			b.Fatal(err)
		}
		restore = time.Since(start)
		// The restored engine holds the entries: an open matches the
		// first send (sequence), the others' timers end (absence).
		fired = len(again.Event(&engine.Event{Type: engine.TypeOpen, MessageID: 1 << 56, Email: emails[0],
			CustomID: "promo-spring", Received: t0.Add(2 * time.Hour)}, pendingEntries+1))
		fired += len(again.Tick(t0.Add(25*time.Hour), pendingEntries+2))
	}
	if fired == 0 {
		b.Error("the restored engine lost its pending entries")
	}
	b.ReportMetric((total-base)/pendingEntries, "B/entry")
	b.ReportMetric(total/pendingEntries, "B/event")
	b.ReportMetric(float64(snapBytes)/pendingEntries, "snapshot-B/entry")
	b.ReportMetric(float64(snap.Milliseconds()), "snapshot-ms")
	b.ReportMetric(float64(restore.Milliseconds()), "restore-ms")
}

// heapGrowth returns how much live heap the value built by f holds.
func heapGrowth(f func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := f()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}
