package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/testutil"
)

// The crash test runs the real binary (this test binary as herald) and
// SIGKILLs it at random moments while clients post events. Afterwards:
// every acknowledged event was processed exactly once by the engine (the
// every-1 counter counts 1, 2, … N without a gap or a repeat, and each
// acknowledged event has its firing), no firing id reaches the endpoint
// twice beyond one per crash with one delivery at a time
// (docs/operations.md: the in-flight window),
// and absence timers pending at a crash still fire.

const crashRules = `version: 1
rules:
  - name: each-sent
    on: sent
    every: 1
    do:
      - http: {connection: crm, path: /each, json: {id: "{{ MessageID }}", n: "{{ count }}"}}
  - name: no-open
    on: sent
    if: CustomID == "absent"
    unless: {event: open, within: 2s}
    do:
      - http: {connection: crm, path: /absent, json: {id: "{{ MessageID }}"}}
`

// endpoint records what the fake CRM receives.
type endpoint struct {
	mu       sync.Mutex
	keys     map[string]int    // Idempotency-Key → deliveries
	each     map[int64][]int64 // MessageID → counts it was given
	absent   map[int64]int
	arrivals chan struct{}
}

func newEndpoint() *endpoint {
	return &endpoint{keys: map[string]int{}, each: map[int64][]int64{}, absent: map[int64]int{}, arrivals: make(chan struct{}, 1)}
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ ID, N int64 }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	key := r.Header.Get("Idempotency-Key")
	e.keys[key]++
	if e.keys[key] == 1 {
		switch r.URL.Path {
		case "/each":
			e.each[body.ID] = append(e.each[body.ID], body.N)
		case "/absent":
			e.absent[body.ID]++
		}
	}
	e.mu.Unlock()
	select {
	case e.arrivals <- struct{}{}:
	default:
	}
}

// child is one run of herald serve as a process.
type child struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func startChild(t *testing.T, config string, logs io.Writer) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", config)
	cmd.Env = append(os.Environ(), "HERALD_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		cmd.Wait()
		close(c.done)
	}()
	select {
	case c.addr = <-found:
	case <-c.done:
		t.Fatalf("herald exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatalf("herald did not listen within a minute")
	}
	return c
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
}

func (c *child) term(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	<-c.done
}

func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts herald a dozen times")
	}
	crm := newEndpoint()
	srv := httptest.NewServer(crm)
	defer srv.Close()
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	config := filepath.Join(dir, "herald.yaml")
	os.WriteFile(rules, []byte(crashRules), 0o644)
	os.WriteFile(config, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
data: %s
rules: %s
dispatch: {concurrency: 1}
connections:
  crm: {type: http, base_url: %q}
`, filepath.Join(dir, "data"), rules, srv.URL)), 0o644)
	logs := &testutil.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("herald's logs:\n%s", logs.String())
		}
	}()

	var next atomic.Int64 // MessageIDs
	var mu sync.Mutex
	acked := map[int64]bool{}
	absentAcked := map[int64]bool{}
	client := &http.Client{Timeout: 10 * time.Second}
	const crashes = 6
	for round := 0; round < crashes; round++ {
		c := startChild(t, config, logs)
		target := 30 + rand.IntN(120) // acknowledged events before the kill
		var count atomic.Int64
		reached := make(chan struct{})
		var once sync.Once
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					id := 576460765503091475 + next.Add(1)
					custom := ""
					if id%7 == 0 {
						custom = "absent"
					}
					body := fmt.Sprintf(`{"event":"sent","time":1700000000,"MessageID":%d,"email":"u%d@x.com","CustomID":%q}`, id, id, custom)
					resp, err := client.Post("http://"+c.addr+"/webhooks/mailjet", "application/json", strings.NewReader(body))
					if err != nil {
						continue // killed: the event was not acknowledged
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						continue
					}
					mu.Lock()
					acked[id] = true
					if custom == "absent" {
						absentAcked[id] = true
					}
					mu.Unlock()
					if count.Add(1) >= int64(target) {
						once.Do(func() { close(reached) })
					}
				}
			})
		}
		select {
		case <-reached:
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: only %d events acknowledged in a minute", round, count.Load())
		}
		c.kill(t) // mid-stream: clients are posting
		stop.Store(true)
		wg.Wait()
	}

	// The last run: everything acknowledged gets delivered.
	c := startChild(t, config, logs)
	defer c.term(t)
	deadline := time.After(90 * time.Second)
	for {
		crm.mu.Lock()
		missing := 0
		for id := range acked {
			if len(crm.each[id]) == 0 {
				missing++
			}
		}
		for id := range absentAcked {
			if crm.absent[id] == 0 {
				missing++
			}
		}
		crm.mu.Unlock()
		if missing == 0 {
			break
		}
		select {
		case <-crm.arrivals:
		case <-deadline:
			t.Fatalf("%d acknowledged events without their firings after the last restart (%d deliveries, %d events delivered)", missing, len(crm.keys), len(crm.each))
		}
	}

	crm.mu.Lock()
	defer crm.mu.Unlock()
	// Exactly once in the engine: the counter saw each processed event
	// once, so its values are 1..N, each given to one event.
	var counts []int64
	for id, ns := range crm.each {
		if len(ns) != 1 {
			t.Errorf("event %d got %d distinct every-1 firings %v: processed more than once", id, len(ns), ns)
		}
		counts = append(counts, ns...)
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i] < counts[j] })
	for i, n := range counts {
		if n != int64(i+1) {
			t.Fatalf("every-1 counts are not 1..%d: position %d holds %d", len(counts), i, n)
		}
	}
	if len(crm.each) < len(acked) {
		t.Errorf("%d events processed, %d acknowledged", len(crm.each), len(acked))
	}
	repeats := 0
	for _, n := range crm.keys {
		repeats += n - 1
	}
	if repeats > crashes {
		t.Errorf("%d firings delivered twice over %d crashes; at most one per crash is allowed", repeats, crashes)
	}
	t.Logf("%d crashes: %d events acknowledged, %d processed, %d absence firings, %d repeated deliveries",
		crashes, len(acked), len(crm.each), len(crm.absent), repeats)
}
