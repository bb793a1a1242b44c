package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/config"
	"github.com/heraldmail/herald/internal/lease"
	"github.com/heraldmail/herald/internal/testutil"
)

// Every documented Mailjet event, posted as Version 1 bodies and then all
// together as one Version 2 body, is acknowledged and shows in /api/events,
// newest first, with ids exact.
func TestServeDocsEvents(t *testing.T) {
	t.Parallel()
	d := start(t, testConfig(t))
	evs := docsEvents(t)
	for _, e := range evs {
		if r := d.post(e); r.code != http.StatusOK {
			t.Fatalf("v1 %.40s…: %d %s", e, r.code, r.body)
		}
	}
	if r := d.post("[" + strings.Join(evs, ",") + "]"); r.code != http.StatusOK {
		t.Fatalf("v2: %d %s", r.code, r.body)
	}
	if got, want := len(d.records()), len(evs)+1; got != want {
		t.Errorf("the log holds %d records, want %d (one per body)", got, want)
	}
	got := d.events()
	if len(got) != 2*len(evs) {
		t.Fatalf("/api/events has %d events, want %d", len(got), 2*len(evs))
	}
	// Newest first: the v2 body's events last to first, then the v1
	// bodies last to first.
	for i, e := range got {
		posted := evs[len(evs)-1-i%len(evs)]
		if err := sameEvent(t, e.Event, posted); err != nil {
			t.Errorf("event %d (seq %d): %v", i, e.Seq, err)
		}
	}
	if got[0].Seq <= got[len(evs)].Seq {
		t.Errorf("seq %d of the v2 body is not after seq %d of the last v1 body", got[0].Seq, got[len(evs)].Seq)
	}
}

func TestServeEmptyArrayAndSendTest(t *testing.T) {
	t.Parallel()
	d := start(t, testConfig(t))
	if r := d.post("[]"); r.code != http.StatusOK {
		t.Fatalf("[]: %d %s", r.code, r.body)
	}
	if got := d.records(); len(got) != 0 {
		t.Fatalf("[] was stored: %q", got)
	}
	// The dashboard's "Send test": ids 0, strings "", booleans and numbers "".
	sendTest := `{"event":"sent","time":1433333949,"MessageID":0,"Message_GUID":"","email":"","mj_campaign_id":0,` +
		`"mj_contact_id":0,"customcampaign":"","mj_message_id":"","smtp_reply":"","CustomID":"","Payload":"",` +
		`"blocked":"","hard_bounce":"","mj_list_id":""}`
	if r := d.post(sendTest); r.code != http.StatusOK {
		t.Fatalf("send test: %d %s", r.code, r.body)
	}
	got := d.events()
	if len(got) != 1 {
		t.Fatalf("/api/events has %d events, want the send test", len(got))
	}
	if err := sameEvent(t, got[0].Event, sendTest); err != nil {
		t.Error(err)
	}
}

// Bad bodies and bad credentials get their status and store nothing.
func TestServeRejects(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Webhook.MaxBody = 1 * config.KiB
	cfg.Webhook.BasicAuth = &config.BasicAuth{Username: "mailjet", Password: "pw-4411"}
	d := start(t, cfg)
	evs := docsEvents(t)
	tests := []struct {
		name, body, user, pass string
		code                   int
	}{
		{"not JSON", `{"event":"sent",`, "mailjet", "pw-4411", 400},
		{"a JSON scalar", `12`, "mailjet", "pw-4411", 400},
		{"an array holding a scalar", "[" + evs[0] + `,"x"]`, "mailjet", "pw-4411", 400},
		{"oversized", "[" + strings.Join(evs, ",") + "]", "mailjet", "pw-4411", 413},
		{"missing credentials", evs[0], "", "", 401},
		{"wrong password", evs[0], "mailjet", "pw-4412", 401},
		{"wrong user", evs[0], "mailjey", "pw-4411", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, d.base+"/webhooks/mailjet", strings.NewReader(tt.body))
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			r := d.do(req)
			if r.code != tt.code {
				t.Fatalf("status %d %s, want %d", r.code, r.body, tt.code)
			}
			if !strings.Contains(r.body, `"error"`) {
				t.Errorf("body %q is not a JSON error", r.body)
			}
			if tt.code == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if got := d.records(); len(got) != 0 {
		t.Errorf("the log holds %d records after only bad requests, want 0", len(got))
	}
	if r := d.post(evs[0]); r.code != http.StatusOK {
		t.Errorf("a good request after them: %d %s", r.code, r.body)
	}
	if strings.Contains(d.logs.String(), "pw-4411") {
		t.Errorf("the webhook password appears in the logs")
	}
}

// Events acknowledged before a restart are in the log after it.
func TestServeDurableAcrossRestart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	d := start(t, cfg)
	evs := docsEvents(t)
	for _, e := range evs[:3] {
		if r := d.post(e); r.code != http.StatusOK {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	if r := d.post("[" + strings.Join(evs[3:], ",") + "]"); r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	d.stop()

	d2 := start(t, cfg) // the same data directory
	got := d2.events()
	if len(got) != len(evs) {
		t.Fatalf("after the restart /api/events has %d events, want %d", len(got), len(evs))
	}
	for i, e := range got {
		if err := sameEvent(t, e.Event, evs[len(evs)-1-i]); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	// And new events go on after the old ones.
	if r := d2.post(evs[0]); r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if got2 := d2.events(); len(got2) != len(evs)+1 || got2[0].Seq <= got[0].Seq {
		t.Errorf("after the restart the new event has seq %d, not after %d", got2[0].Seq, got[0].Seq)
	}
}

// The admin token guards /api/*; the token and the webhook password never
// reach the logs.
func TestServeAdminToken(t *testing.T) {
	t.Parallel()
	const token = "adm-5e3c9a71"
	cfg := testConfig(t)
	cfg.Admin.Token = token
	cfg.Webhook.BasicAuth = &config.BasicAuth{Username: "mailjet", Password: "hook-77b1"}
	cfg.Logging.Level = "debug"
	d := start(t, cfg)
	if r := d.post(docsEvents(t)[0]); r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	for _, tt := range []struct {
		name, auth string
		code       int
	}{
		{"missing", "", 401},
		{"wrong", "Bearer adm-5e3c9a70", 401},
		{"right", "Bearer " + token, 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, d.base+"/api/events", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		r := d.do(req)
		if r.code != tt.code {
			t.Errorf("%s token: %d %s, want %d", tt.name, r.code, r.body, tt.code)
		}
		if tt.code == 401 && !strings.Contains(r.body, `"error"`) {
			t.Errorf("%s token: body %q is not a JSON error", tt.name, r.body)
		}
	}
	d.stop()
	logs := d.logs.String()
	if !strings.Contains(logs, "listening") {
		t.Fatalf("no logs captured:\n%s", logs)
	}
	for _, secret := range []string{token, "hook-77b1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, logs)
		}
	}
}

// The listening address actually bound is logged.
func TestServeLogsBoundAddress(t *testing.T) {
	t.Parallel()
	d := start(t, testConfig(t))
	want := fmt.Sprintf(`msg=listening addr=%s `, regexp.QuoteMeta(d.m.Addr()))
	if !regexp.MustCompile(want).MatchString(d.logs.String()) {
		t.Errorf("logs lack %q:\n%s", want, d.logs)
	}
	if r := d.get("/healthz"); r.code != 200 {
		t.Errorf("/healthz: %d", r.code)
	}
	if r := d.get("/readyz"); r.code != 200 {
		t.Errorf("/readyz: %d %s", r.code, r.body)
	}
	if r := d.get("/metrics"); r.code != 200 || !strings.Contains(r.body, "herald_webhook_requests_total") {
		t.Errorf("/metrics: %d", r.code)
	}
}

// Close lets a request in flight finish and acknowledges its events.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	reading := make(chan struct{})
	began := sync.OnceFunc(func() { close(reading) })
	d := start(t, testConfig(t), func(m *Main) {
		m.wrapHandler = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Body = onRead{ReadCloser: r.Body, f: began}
				h.ServeHTTP(w, r)
			})
		}
	})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, d.base+"/webhooks/mailjet", pr)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := d.client.Do(req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	ev := docsEvents(t)[1]
	// Send half the body: the webhook handler starts reading it and waits
	// for the rest.
	if _, err := pw.Write([]byte(ev[:20])); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reading:
	case <-time.After(waitLimit):
		t.Fatal("the webhook handler did not start reading the request")
	}
	if n := value(d.m.Metrics.WebhookInFlight); n != 1 {
		t.Fatalf("herald_webhook_in_flight = %v while the handler reads the body, want 1", n)
	}
	// http.Server runs its shutdown hooks once it has closed the listener.
	shutdown := make(chan struct{})
	d.m.http.RegisterOnShutdown(func() { close(shutdown) })
	closed := make(chan error, 1)
	go func() { closed <- d.m.Close() }()
	select {
	case <-shutdown:
	case <-time.After(waitLimit):
		t.Fatal("Close did not shut the HTTP server down")
	}
	// The listener closes first: new connections are refused.
	if c, err := net.Dial("tcp", d.m.Addr()); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after Close shut the HTTP server down")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a request in flight", err)
	default:
	}
	pw.Write([]byte(ev[20:]))
	pw.Close()
	resp := <-done
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight got %v, want 200", resp)
	}
	resp.Body.Close()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The acknowledged event is in the log after a restart.
	d2 := start(t, d.m.Config)
	if got := d2.events(); len(got) != 1 {
		t.Errorf("after the restart: %d events, want 1", len(got))
	}
}

// herald serve with no configuration file starts on the embedded defaults
// and stops cleanly when its context ends (SIGINT, SIGTERM in main).
func TestServeCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := newWatchWriter(regexp.MustCompile(`msg=listening addr=(\S+)`))
	code := make(chan int, 1)
	go func() {
		code <- runArgs(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, io.Discard, logs)
	}()
	var addr string
	select {
	case addr = <-logs.found:
	case c := <-code:
		t.Fatalf("serve exited %d:\n%s", c, logs)
	}
	resp, err := http.Post("http://"+addr+"/webhooks/mailjet", "application/json", strings.NewReader(docsEvents(t)[0]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST: %d, want 200", resp.StatusCode)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("serve exited %d, want 0:\n%s", c, logs)
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no stopped message:\n%s", logs)
	}
}

// onRead is a request body that calls f at each Read: a test sees the
// handler reading the request.
type onRead struct {
	io.ReadCloser
	f func()
}

func (r onRead) Read(p []byte) (int, error) {
	r.f()
	return r.ReadCloser.Read(p)
}

// watchWriter collects log output and sends the first submatch of re on
// found the first time a write matches.
type watchWriter struct {
	testutil.Buffer
	re    *regexp.Regexp
	found chan string
	mu    sync.Mutex // guards sent
	sent  bool
}

func newWatchWriter(re *regexp.Regexp) *watchWriter {
	return &watchWriter{re: re, found: make(chan string, 1)}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if m := w.re.FindSubmatch(p); m != nil && !w.sent {
		w.sent = true
		w.found <- string(m[1])
	}
	return n, err
}

// /metrics tells how far the log goes, so that with the engine's position
// an operator sees how far behind the engine is.
func TestServeMetricsLogLastPosition(t *testing.T) {
	t.Parallel()
	d := start(t, testConfig(t))
	if r := d.post(`{"event":"open","time":1433103519,"MessageID":1,"email":"a@x.com"}`); r.code != 200 {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	seq := d.events()[0].Seq
	m := regexp.MustCompile(`(?m)^herald_log_last_position (\S+)$`).FindStringSubmatch(d.get("/metrics").body)
	if m == nil {
		t.Fatal("/metrics lacks herald_log_last_position")
	}
	// The engine's clock ticks are records too: the log may be further on.
	if last, err := strconv.ParseFloat(m[1], 64); err != nil || last < float64(seq) {
		t.Errorf("herald_log_last_position %s, want at least the body's record %d", m[1], seq)
	}
}

// cluster.lease sets the lease time: the lease bucket's TTL.
func TestServeLeaseTime(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Cluster.Lease = config.Duration(7 * time.Second)
	d := start(t, cfg)
	s, err := d.m.conn.JetStream().Stream(context.Background(), "KV_"+lease.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != 7*time.Second {
		t.Errorf("lease bucket TTL %v, want 7s", got)
	}
}
