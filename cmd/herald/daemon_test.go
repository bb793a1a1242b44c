package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldmail/herald/internal/config"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/testutil"
)

// This file starts herald serve in-process (Main) for the tests: on
// 127.0.0.1:0, with its data in t.TempDir().

// testConfig returns the embedded defaults with a free port and a fresh
// data directory.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.HTTP.ShutdownTimeout = config.Duration(10 * time.Second)
	return cfg
}

// daemon is a running Main and a client for it.
type daemon struct {
	t       *testing.T
	m       *Main
	base    string // scheme://host:port
	logs    *testutil.Buffer
	client  *http.Client
	user    string // basic auth for post, when set
	pass    string
	token   string   // admin token for get, when set
	signals *signals // fired by m's engine hooks
}

// start runs a Main for cfg and stops it when the test ends. Its engine
// hooks fire the daemon's signals; setup, when given, changes the Main
// before Run (more hooks).
func start(t *testing.T, cfg *config.Config, setup ...func(*Main)) *daemon {
	t.Helper()
	logs := &testutil.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMain(cfg, logger)
	sig := &signals{}
	m.hooks = sig.hooks(m.hooks)
	for _, f := range setup {
		f(m)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("Run: %v\n%s", err, logs)
	}
	d := &daemon{t: t, m: m, base: "http://" + m.Addr(), logs: logs, client: &http.Client{Timeout: 30 * time.Second}, signals: sig}
	if b := cfg.Webhook.BasicAuth; b != nil {
		d.user, d.pass = b.Username, b.Password.Value()
	}
	d.token = cfg.Admin.Token.Value()
	t.Cleanup(func() { d.stop() })
	return d
}

// stop closes the daemon; Close may be called again.
func (d *daemon) stop() {
	d.t.Helper()
	if err := d.m.Close(); err != nil {
		d.t.Errorf("Close: %v", err)
	}
}

// post sends body to the webhook with the daemon's credentials.
func (d *daemon) post(body string) *response {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.base+d.m.Config.Webhook.Path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if d.user != "" {
		req.SetBasicAuth(d.user, d.pass)
	}
	return d.do(req)
}

// get sends a GET with the daemon's admin token.
func (d *daemon) get(path string) *response {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.base+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	return d.do(req)
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (d *daemon) do(req *http.Request) *response {
	d.t.Helper()
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return &response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// apiEvent is one element of GET /api/events.
type apiEvent struct {
	Seq   uint64         `json:"seq"`
	Index int            `json:"index"`
	Event map[string]any `json:"event"`
}

// events returns GET /api/events?limit=1000, numbers as json.Number.
func (d *daemon) events() []apiEvent {
	d.t.Helper()
	r := d.get("/api/events?limit=1000")
	if r.code != http.StatusOK {
		d.t.Fatalf("GET /api/events: %d %s", r.code, r.body)
	}
	var out struct{ Events []apiEvent }
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		d.t.Fatalf("GET /api/events: %v in %s", err, r.body)
	}
	return out.Events
}

// records returns the bodies of every event record in the log, newest
// first, read from the log itself rather than through the API.
func (d *daemon) records() []string {
	d.t.Helper()
	var out []string
	err := d.m.conn.Log().Last(context.Background(), 1<<20, func(r streams.Record) bool {
		out = append(out, string(r.Body))
		return true
	})
	if err != nil {
		d.t.Fatalf("reading the log: %v", err)
	}
	return out
}

// docsEvents returns every event of testdata/events-docs.jsonl (Mailjet's
// documented samples), each as its own JSON object text.
func docsEvents(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/events-docs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if line[0] == '[' {
			var arr []json.RawMessage
			if err := json.Unmarshal(line, &arr); err != nil {
				t.Fatal(err)
			}
			for _, e := range arr {
				out = append(out, string(e))
			}
			continue
		}
		out = append(out, string(line))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fields decodes an event's JSON text keeping numbers exact.
func fields(t *testing.T, event string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(event))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sameEvent reports how got (from /api/events) differs from the posted
// event text, on the fields that identify an event.
func sameEvent(t *testing.T, got map[string]any, posted string) error {
	want := fields(t, posted)
	for _, k := range []string{"event", "time", "MessageID", "email", "Message_GUID", "CustomID"} {
		// Event.MarshalJSON leaves out empty optional strings.
		if got[k] == nil && want[k] == "" {
			continue
		}
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			return fmt.Errorf("%s = %v, want %v", k, got[k], want[k])
		}
	}
	return nil
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if c := d.GetCounter(); c != nil {
		return c.GetValue()
	}
	return d.GetGauge().GetValue()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
