package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// BenchmarkSnapshotIngestLatency measures what an engine snapshot at issue
// 5's size (1,000,000 pending timers) does to ingest: the latency of
// appending a 400-byte webhook body to the log, alone and while snapshots
// are being encoded back to back on the other core.
//
//	go test -run '^$' -bench SnapshotIngestLatency -benchtime 1x ./internal/pipeline
func BenchmarkSnapshotIngestLatency(b *testing.B) {
	rs, err := engine.Parse("rules.yaml", []byte(`version: 1
rules:
  - name: no-open
    on: sent
    unless: {event: open, within: 48h}
    do: [{slack: {text: "no open from {{ email }}"}}]
`), engine.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(rs, engine.Options{})
	t0 := time.Unix(1700000000, 0)
	ev := engine.Event{Type: engine.TypeSent}
	for i := range 1_000_000 {
		ev.MessageID = 1<<56 + int64(i)
		ev.Email = fmt.Sprintf("user%d@domain%d.com", i, i%50)
		ev.Received = t0.Add(time.Duration(i) * time.Millisecond)
		eng.Event(&ev, uint64(i+1))
	}
	c := openConn(b, b.TempDir())
	defer c.Close()
	body := []byte(`{"event":"open","time":1433103519,"MessageID":19421777396190490,"Message_GUID":"1ab23cd4-e567-8901-2345-6789f0gh1i2j","email":"api@mailjet.com","mj_campaign_id":7173,"mj_contact_id":320,"customcampaign":"","CustomID":"helloworld","Payload":"","ip":"127.0.0.1","geo":"US","agent":"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"}`)
	// measure appends one body at a time until done says so.
	measure := func(done func() bool) []time.Duration {
		var lat []time.Duration
		for !done() {
			start := time.Now()
			if _, err := c.Log().Append(context.Background(), body, t0); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		return lat
	}
	for b.Loop() {
		end := time.Now().Add(2 * time.Second)
		quiet := measure(func() bool { return time.Now().After(end) })
		const rounds = 3
		var snaps atomic.Int64
		bytes := 0
		var took time.Duration
		var wg sync.WaitGroup
		wg.Go(func() {
			for range rounds {
				start := time.Now()
				bytes = len(eng.Snapshot())
				took += time.Since(start)
				snaps.Add(1)
			}
		})
		busy := measure(func() bool { return snaps.Load() == rounds })
		wg.Wait()
		snapCount := int(snaps.Load())
		pct := func(l []time.Duration, p float64) float64 {
			return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(quiet, 0.5), "quiet-p50-ms")
		b.ReportMetric(pct(quiet, 0.99), "quiet-p99-ms")
		b.ReportMetric(pct(busy, 0.5), "snapshotting-p50-ms")
		b.ReportMetric(pct(busy, 0.99), "snapshotting-p99-ms")
		b.Logf("append latency p50/p99/p99.9/max: alone %.2f/%.2f/%.2f/%.2f ms (%d appends); during %d snapshots of %d bytes (%.0f ms each) %.2f/%.2f/%.2f/%.2f ms (%d appends)",
			pct(quiet, 0.5), pct(quiet, 0.99), pct(quiet, 0.999), pct(quiet, 1), len(quiet), snapCount, bytes, float64(took.Milliseconds())/float64(snapCount),
			pct(busy, 0.5), pct(busy, 0.99), pct(busy, 0.999), pct(busy, 1), len(busy))
	}
}
