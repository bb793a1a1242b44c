package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldmail/herald/actions/httpcall"
	"github.com/heraldmail/herald/internal/pipeline"
)

// BenchmarkDispatch measures actions per second end to end: jobs published
// on the action queue (by 8 publishers, as the engine and replicas would)
// until a local fake endpoint has received every one of them, through the
// real consumer, status bucket and HTTP action client.
//
//	go test -run '^$' -bench BenchmarkDispatch -benchtime 20000x ./internal/dispatch
func BenchmarkDispatch(b *testing.B) {
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) { benchDispatch(b, conc) })
	}
}

func benchDispatch(b *testing.B, conc int) {
	c := openConn(b)
	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if got.Add(1) == target {
			close(done)
		}
	}))
	defer ep.Close()
	r, err := httpcall.New(httpcall.Config{BaseURL: ep.URL, HTTPClient: &http.Client{Transport: pooledTransport()}})
	if err != nil {
		b.Fatal(err)
	}
	opt := testOptions(c, map[string]Runner{"crm": r})
	opt.Concurrency = conc
	d := newDispatcher(b, opt)
	stop := run(b, d)

	// Encode the jobs before the clock starts.
	data := make([][]byte, b.N)
	for i := range data {
		j := pipeline.Job{ID: fmt.Sprintf("bench-%016x/0", i), Rule: "bench", At: time.Now(),
			Action: httpAction("/hook"), Pos: pipeline.Position{Seq: uint64(i + 1)}}
		data[i], _ = json.Marshal(j)
	}
	b.ResetTimer()
	begin := time.Now()
	var wg sync.WaitGroup
	const publishers = 8
	for p := range publishers {
		wg.Go(func() {
			hdr := nats.Header{}
			hdr.Set(pipeline.HeaderRule, "bench")
			for i := p; i < b.N; i += publishers {
				hdr.Set(pipeline.HeaderPosition, fmt.Sprintf("%d.0", i+1))
				if _, _, err := c.Actions().Publish(context.Background(), pipeline.SubjectPrefix+"bench",
					fmt.Sprintf("bench-%016x/0", i), data[i], hdr); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("delivered %d of %d", got.Load(), b.N)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
	stop()
}
