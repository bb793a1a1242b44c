package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/webhook"
)

// TestMain lets the test binary be the ceiling's child process too:
// startCeiling re-executes os.Executable(), which under go test is this
// binary.
func TestMain(m *testing.M) {
	if os.Getenv(ceilingEnv) == "1" {
		os.Exit(serveCeiling(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The generated bodies are Mailjet webhook bodies: Version 1 objects or
// Version 2 arrays, ids above 2^53 and distinct, about 360 bytes an event.
func TestBodiesAreMailjetTraffic(t *testing.T) {
	for _, tt := range []struct {
		perBody int
		array   bool
	}{{1, false}, {1, true}, {100, true}} {
		bs := bodies(7, 20, tt.perBody, tt.array)
		ids := map[int64]bool{}
		total, events := 0, 0
		for _, b := range bs {
			if isArray := b[0] == '['; isArray != (tt.perBody > 1 || tt.array) {
				t.Fatalf("perBody %d array %v: body starts with %q", tt.perBody, tt.array, b[0])
			}
			evs, err := webhook.Decode(b, testNow)
			if err != nil || len(evs) != tt.perBody {
				t.Fatalf("Decode: %d events, %v; want %d", len(evs), err, tt.perBody)
			}
			for _, e := range evs {
				if e.MessageID <= 1<<53 || ids[e.MessageID] {
					t.Errorf("MessageID %d: not above 2^53 or repeated", e.MessageID)
				}
				ids[e.MessageID] = true
				if e.Type == "" || e.Domain == "" {
					t.Errorf("event without type or domain: %+v", e)
				}
			}
			total += len(b)
			events += len(evs)
		}
		if avg := total / events; avg < 300 || avg > 450 {
			t.Errorf("%d bytes an event on average, want about 360", avg)
		}
	}
}

// A whole run against a server, with both ceilings, with both clients.
func TestRun(t *testing.T) {
	var posts, authed int // one worker: requests come one at a time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts++
		if u, p, ok := r.BasicAuth(); ok && u == "u" && p == "p" {
			authed++
		}
		if _, err := webhook.Check(must(io.ReadAll(r.Body))); err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	for _, client := range []string{"-nethttp=false", "-nethttp=true"} {
		var out, errb bytes.Buffer
		code := run([]string{"-url", srv.URL + "/webhooks/mailjet", "-n", "50", "-c", "1", "-warmup", "0",
			"-events", "3", "-user", "u", "-password", "p", "-ceiling", "-ceiling-inprocess", client}, &out, &errb)
		if code != 0 || errb.Len() > 0 {
			t.Fatalf("%s: exit %d: %s%s", client, code, out.String(), errb.String())
		}
		rows := map[string]bool{}
		for _, line := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(line); len(f) == 7 && f[1] == "50" && f[6] == "0" {
				rows[f[0]] = true // name, 50 ok, ..., 0 errors
			}
		}
		for _, name := range []string{"ceiling", "ceiling-inprocess", "target"} {
			if !rows[name] {
				t.Errorf("%s: no row %q with 50 ok and 0 errors:\n%s", client, name, out.String())
			}
		}
		for _, want := range []string{"Version 2", "\nratio target/ceiling (requests/s): ", "\nratio target/ceiling-inprocess (requests/s): "} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", client, want, out.String())
			}
		}
	}
	if posts != 100 || authed != 100 {
		t.Errorf("the target got %d posts, %d with the credentials; want 100", posts, authed)
	}
}

// The ceiling's child process serves the bare handler, and exits by itself
// when stopped.
func TestCeilingProcess(t *testing.T) {
	var errb bytes.Buffer
	stop, u, err := startCeiling(&url.URL{Path: "/webhooks/mailjet"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Post(u.String(), "application/json", bytes.NewReader(bodies(1, 1, 1, false)[0]))
	if err != nil {
		stop()
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || u.Path != "/webhooks/mailjet" {
		t.Errorf("POST %s: %s, want 200 at /webhooks/mailjet", u, resp.Status)
	}
	// A keep-alive connection left open must not keep the child alive.
	if err := stop(); err != nil {
		t.Errorf("stop: %v (stderr %q), want the child to exit with 0", err, errb.String())
	}
	client.CloseIdleConnections()
	if c, err := net.Dial("tcp", u.Host); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after stop", u.Host)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var testNow = mustTime("2025-03-01T12:00:00Z")

func mustTime(s string) (t time.Time) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
