package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/streams"
)

// BenchmarkRestart measures issue 5's restart target: herald restarting
// with N pending absence timers in its snapshot and N events in the log
// after that snapshot, from New to the engine caught up with the log.
// Events come 100 to a log record, as Version 2 bodies (or group-committed
// Version 1 bodies) store them. Run it alone, it takes a minute:
//
//	go test -run '^$' -bench Restart -benchtime 1x ./internal/pipeline
//
// HERALD_RESTART_N changes N (default 1,000,000).
func BenchmarkRestart(b *testing.B) {
	n := 1_000_000
	if v := envInt("HERALD_RESTART_N"); v > 0 {
		n = v
	}
	const perRecord = 100
	rules := `version: 1
rules:
  - name: no-open
    on: sent
    unless: {event: open, within: 48h}
    do: [{slack: {text: "no open from {{ email }}"}}]
  - name: milestone
    on: sent
    every: 100000
    do: [{slack: {text: "{{ count }} sent"}}]
`
	rs, err := engine.Parse("rules.yaml", []byte(rules), engine.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		dir := b.TempDir()
		c := openConn(b, dir)
		store, err := c.ObjectStore(context.Background(), "herald_snapshots")
		if err != nil {
			b.Fatal(err)
		}
		opt := Options{Log: c.Log(), Queue: c.Actions(), Actions: c.Actions().Stream(), Rules: rs,
			Load: func() (*engine.RuleSet, error) { return rs, nil }, Snapshots: &Snapshots{Store: store}, SnapshotEvery: time.Hour}
		t0 := time.Unix(1700000000, 0)
		last := appendEvents(b, c, 0, n, perRecord, t0)
		start := time.Now()
		runUntil(b, New, opt, last) // builds the state, then the final snapshot
		b.Logf("first run: %d events in %s", n, time.Since(start).Round(time.Millisecond))
		snapStart := time.Now()
		eng := engine.New(rs, engine.Options{})
		if seq, err := opt.Snapshots.Load(context.Background(), eng.Restore); err != nil || seq != last {
			b.Fatalf("snapshot at %d (%v), want %d", seq, err, last)
		}
		restore := time.Since(snapStart)
		encStart := time.Now()
		snap := eng.Snapshot()
		encode := time.Since(encStart)
		b.ReportMetric(float64(len(snap))/float64(n), "snapshot-B/timer")
		b.ReportMetric(encode.Seconds(), "snapshot-encode-s")
		b.ReportMetric(restore.Seconds(), "snapshot-load+restore-s")

		last = appendEvents(b, c, n, n, perRecord, t0.Add(time.Hour))
		runtime.GC()
		restart := time.Now()
		r := runUntil(b, New, opt, last)
		took := time.Since(restart)
		b.ReportMetric(took.Seconds(), "restart-s")
		info, _ := r.Rules(context.Background())
		b.Logf("restart with %d pending timers and %d events after the snapshot: caught up in %s (%d events in the engine); snapshot %d bytes, encoded in %s, loaded and restored in %s",
			n, n, took.Round(time.Millisecond), info.(RulesInfo).Events, len(snap), encode.Round(time.Millisecond), restore.Round(time.Millisecond))
		c.Close()
	}
}

// appendEvents appends count sent events starting at MessageID offset+1,
// perRecord to a record, and returns the last record's sequence.
func appendEvents(tb testing.TB, c *streams.Conn, offset, count, perRecord int, at time.Time) uint64 {
	tb.Helper()
	var last uint64
	var body bytes.Buffer
	for i := 0; i < count; i += perRecord {
		body.Reset()
		body.WriteByte('[')
		for j := i; j < min(i+perRecord, count); j++ {
			if j > i {
				body.WriteByte(',')
			}
			id := 576460765503091475 + int64(offset+j)
			fmt.Fprintf(&body, `{"event":"sent","time":1700000000,"MessageID":%d,"Message_GUID":"1ab23cd4-e567-8901-2345-6789f0gh1i2j","email":"user%d@domain%d.com","mj_campaign_id":7257,"mj_contact_id":4,"customcampaign":"","CustomID":"promo-%d","Payload":""}`, id, offset+j, j%50, j%10)
		}
		body.WriteByte(']')
		seq, err := c.Log().Append(context.Background(), body.Bytes(), at)
		if err != nil {
			tb.Fatal(err)
		}
		last = seq
	}
	return last
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
