package sim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/webhook"
)

// recorder is a webhook that keeps what it receives.
type recorder struct {
	mu       sync.Mutex
	arrivals []time.Time
	events   int
	authed   int
	bad      int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	evs, err := webhook.Decode(body, received)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.arrivals = append(rec.arrivals, time.Now())
	rec.events += len(evs)
	if u, p, ok := r.BasicAuth(); ok && u == "mailjet" && p == "secret" {
		rec.authed++
	}
	if err != nil {
		rec.bad++
		w.WriteHeader(http.StatusBadRequest)
	}
}

func postRun(t *testing.T, cfg Config, s Schedule, opt PostOptions) (*Report, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opt.URL, _ = url.Parse(srv.URL + "/webhooks/mailjet")
	rep, err := Post(context.Background(), NewBodies(g, s), opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep, rec
}

// At 500 events/s for 2 s the achieved rate is within 10% of the target,
// as the report says and as the server sees it.
func TestPostRate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients, cfg.MaxEvents = 5000, 1000
	var progress bytes.Buffer
	rep, rec := postRun(t, cfg, Schedule{Version: 1, Rate: 500},
		PostOptions{Paced: true, Concurrency: 4, User: "mailjet", Password: "secret",
			Progress: &progress, ProgressEvery: 500 * time.Millisecond})
	if rep.Events != 1000 || rep.Requests != 1000 || rep.Acked != 1000 || rep.Status["200"] != 1000 {
		t.Fatalf("report: %+v", rep)
	}
	if rec.events != 1000 || rec.authed != 1000 || rec.bad != 0 {
		t.Fatalf("the server got %d events, %d with the credentials, %d bad", rec.events, rec.authed, rec.bad)
	}
	if r := rep.Rate(); r < 450 || r > 550 {
		t.Errorf("reported rate %.1f events/s, want 500 ± 10%%", r)
	}
	first, last := rec.arrivals[0], rec.arrivals[len(rec.arrivals)-1]
	if r := 999 / last.Sub(first).Seconds(); r < 450 || r > 550 {
		t.Errorf("the server saw %.1f events/s, want 500 ± 10%%", r)
	}
	if len(rep.Latencies) != 1000 || rep.Latencies[0] > rep.Latencies[999] {
		t.Errorf("%d latencies, not sorted", len(rep.Latencies))
	}
	if n := strings.Count(progress.String(), "events/s), simulated time 2025-06-02"); n < 2 {
		t.Errorf("%d progress lines in 2 s, one every 500 ms:\n%s", n, progress.String())
	}
	var out bytes.Buffer
	rep.Write(&out, 500)
	for _, want := range []string{"1000 events in 1000 requests", "(target 500)", "p50", "p99", "max", "200×1000"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// Version 2 bodies go out as arrays, unpaced, through net/http's client
// too; OnResult sees every body; failures are counted by status.
func TestPostVersion2(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients = 500
	want := len(all(t, cfg))
	for _, netHTTP := range []bool{false, true} {
		var mu sync.Mutex
		seen := 0
		rep, rec := postRun(t, cfg, Schedule{Version: 2, Speed: 1440, Window: 100 * time.Millisecond},
			PostOptions{NetHTTP: netHTTP, OnResult: func(b *Body, sent, done time.Time, status int, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err == nil && status == 200 && !done.Before(sent) {
					seen += len(b.Events)
				}
			}})
		if rec.events != want || int(rep.Events) != want || seen != want || rep.Requests >= int64(want) {
			t.Errorf("netHTTP %v: server %d, report %d (%d requests), OnResult %d; want %d events in fewer bodies",
				netHTTP, rec.events, rep.Events, rep.Requests, seen, want)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	cfg.MaxEvents = 20
	g, _ := NewGenerator(cfg)
	rep, err := Post(context.Background(), NewBodies(g, Schedule{Version: 1}), PostOptions{URL: u})
	if err != nil || rep.Status["503"] != 20 || rep.Acked != 0 {
		t.Errorf("against a 503 server: %+v, %v", rep, err)
	}
}
