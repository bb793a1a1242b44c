package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/suppress"
)

// BenchmarkRunnerReplay is the ceiling of the one engine of a cluster:
// events/s a Runner takes from the log (embedded JetStream) through
// decoding, the suppression list (as serve keeps it), rules.example.yaml
// and queueing its firings, with a tick every 100 events. Each iteration replays a fresh log of replayEvents events in
// Version 2 bodies of 100:
//
//	go test -run '^$' -bench RunnerReplay -benchtime 3x ./internal/pipeline
//
// The "none" case runs no rule: reading and decoding the log alone.
func BenchmarkRunnerReplay(b *testing.B) {
	example, err := engine.LoadFile("../../rules.example.yaml", engine.ParseOptions{
		Connections: map[string]string{"crm": "http", "slack": "slack", "mailjet": "mailjet"}})
	if err != nil {
		b.Fatal(err)
	}
	none, err := engine.Parse("none.yaml", []byte("version: 1\nrules: []\n"), engine.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	bodies := replayBodies(replayEvents / 100)
	b.Run("example", func(b *testing.B) { benchReplay(b, example, bodies) })
	b.Run("none", func(b *testing.B) { benchReplay(b, none, bodies) })
}

func benchReplay(b *testing.B, rs *engine.RuleSet, bodies [][]byte) {
	var firings float64
	for b.Loop() {
		b.StopTimer()
		c := openConn(b, b.TempDir())
		t0 := time.Unix(1700000000, 0)
		var last uint64
		for i, body := range bodies {
			at := t0.Add(time.Duration(i) * time.Second)
			if _, err := c.Log().Append(context.Background(), body, at); err != nil {
				b.Fatal(err)
			}
			seq, err := c.Log().AppendTick(context.Background(), at)
			if err != nil {
				b.Fatal(err)
			}
			last = seq
		}
		sup, err := suppress.Open(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		opt := Options{Log: c.Log(), Queue: c.Actions(), Actions: c.Actions().Stream(), Rules: rs, Suppress: sup,
			Processed: func(seq uint64) {
				if seq == last {
					close(done)
				}
			}}
		r := New(opt)
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		b.StartTimer()
		go func() { r.Run(ctx); close(ran) }()
		<-done
		b.StopTimer()
		cancel()
		<-ran
		info, err := c.Actions().Stream().Info(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		firings += float64(info.State.Msgs)
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(replayEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(firings/float64(b.N)/replayEvents, "jobs/event")
}

const replayEvents = 100_000

// replayBodies returns n Version 2 bodies of 100 events: sends, and opens,
// clicks, bounces, blocks, unsubscribes and spam reports of earlier sends,
// half of them promo messages (open-discount fires on their opens).
func replayBodies(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	id := int64(576460765503091475)
	for range n {
		var evs []string
		for range 100 {
			typ, mid := "sent", id
			switch p := rng.IntN(100); {
			case p < 60:
				id++
				mid = id
			case p < 85:
				typ = "open"
			case p < 93:
				typ = "click"
			case p < 96:
				typ = "bounce"
			case p < 98:
				typ = "blocked"
			case p < 99:
				typ = "unsub"
			default:
				typ = "spam"
			}
			if typ != "sent" {
				mid = id - int64(rng.IntN(1000))
			}
			custom := "news"
			if mid%2 == 0 {
				custom = "promo-1"
			}
			evs = append(evs, fmt.Sprintf(`{"event":%q,"time":1700000000,"MessageID":%d,"email":"u%d@d%d.test","CustomID":%q,"hard_bounce":%t,"url":"https://x.test/%d"}`,
				typ, mid, mid, mid%50, custom, mid%3 == 0, rng.IntN(1000)))
		}
		out = append(out, []byte("["+strings.Join(evs, ",")+"]"))
	}
	return out
}
