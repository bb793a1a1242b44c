package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/heraldmail/herald/internal/config"
	"github.com/heraldmail/herald/internal/testutil"
)

// A full log (log.max_bytes) refuses appends: the webhook answers 503
// with Retry-After, and exactly the acknowledged bodies are stored.
func TestServeLogFull(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Log.MaxBytes = 4 * config.KiB
	d := start(t, cfg)
	evs := docsEvents(t)
	var acked []string
	var refused *response
	for i := 0; i < 100 && refused == nil; i++ {
		body := evs[i%len(evs)]
		switch r := d.post(body); r.code {
		case http.StatusOK:
			acked = append(acked, body)
		case http.StatusServiceUnavailable:
			refused = r
		default:
			t.Fatalf("post %d: %d %s", i, r.code, r.body)
		}
	}
	if refused == nil {
		t.Fatalf("100 bodies fit in a 4 KiB log")
	}
	if refused.header.Get("Retry-After") == "" || !strings.Contains(refused.body, `"error"`) {
		t.Errorf("503 without Retry-After or JSON error: %v %q", refused.header, refused.body)
	}
	if len(acked) == 0 {
		t.Fatalf("the first body was refused")
	}
	// Once full, full: a second try is refused too.
	if r := d.post(evs[0]); r.code != http.StatusServiceUnavailable {
		t.Errorf("after the log filled: %d, want 503", r.code)
	}
	got := d.records()
	if len(got) != len(acked) {
		t.Fatalf("the log holds %d records, %d were acknowledged", len(got), len(acked))
	}
	for i, body := range got { // newest first
		if want := acked[len(acked)-1-i]; body != want {
			t.Errorf("record %d = %.50q…, want %.50q…", i, body, want)
		}
	}
	if r := d.get("/readyz"); r.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a full log: %d, want 503", r.code)
	}
	if v := value(d.m.Metrics.LogErrors); v != 2 {
		t.Errorf("herald_log_errors_total = %v, want 2", v)
	}
}

// With an external NATS server that goes away under a running herald, the
// webhook answers 503 with Retry-After and acknowledges nothing; when the
// server is back, herald is ready again and the log holds exactly the
// acknowledged events.
func TestServeNATSDown(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	ns := startNATS(t, store, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	cfg := testConfig(t)
	cfg.NATS = ns.ClientURL()
	d := start(t, cfg)
	evs := docsEvents(t)
	if r := d.post(evs[0]); r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	r := d.post(evs[1])
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("with NATS down: %d %v %s, want 503 with Retry-After", r.code, r.header, r.body)
	}
	if r := d.get("/readyz"); r.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with NATS down: %d, want 503", r.code)
	}

	// Ready again is checked each time herald's NATS connection comes back.
	reconnected := &testutil.Signal{}
	testutil.Relay(t, reconnected, d.m.conn.NATS().StatusChanged(nats.CONNECTED))
	startNATS(t, store, port) // the same server back, same store
	waitUntil(t, "herald to reconnect", reconnected, func() bool { return d.get("/readyz").code == http.StatusOK })
	if r := d.post(evs[2]); r.code != http.StatusOK {
		t.Fatalf("after NATS came back: %d %s", r.code, r.body)
	}
	got := d.events()
	if len(got) != 2 {
		t.Fatalf("/api/events has %d events, want the 2 acknowledged", len(got))
	}
	for i, want := range []string{evs[2], evs[0]} {
		if err := sameEvent(t, got[i].Event, want); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	d.stop() // before the NATS server's cleanup
}

// startNATS runs a NATS server with JetStream storing under store, on
// 127.0.0.1:port (-1: a free port), until the test ends.
func startNATS(t *testing.T, store string, port int) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: store, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}
