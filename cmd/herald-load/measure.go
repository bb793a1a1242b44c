package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmail/herald/internal/httpload"
)

// result is what one measured run saw.
type result struct {
	name    string
	elapsed time.Duration
	ok      int64            // 200 answers
	errors  map[string]int64 // by status code, or "transport"
	lat     []time.Duration  // latencies of the 200 answers
}

// worker is one keep-alive client posting bodies in a loop.
type worker struct {
	send   func(i int) (int, error) // posts body i, returns the status
	n      int                      // bodies to cycle through
	next   int
	ok     int64
	errors map[string]int64
	lat    []time.Duration
}

// post sends the next body and records the outcome when record is set.
func (w *worker) post(record bool) {
	i := w.next % w.n
	w.next++
	start := time.Now()
	code, err := w.send(i)
	if !record {
		return
	}
	switch {
	case err != nil:
		w.errors["transport"]++
	case code != http.StatusOK:
		w.errors[strconv.Itoa(code)]++
	default:
		w.ok++
		w.lat = append(w.lat, time.Since(start))
	}
}

// sender returns a worker's send function for target: the raw client for
// http:// URLs unless o.netHTTP, else net/http's client (shared, so its
// connection pool serves every worker).
func sender(target *url.URL, bodies, requests [][]byte, client *http.Client, o options) func(int) (int, error) {
	if requests != nil {
		rc := &httpload.Conn{Addr: target.Host, Timeout: o.timeout}
		return func(i int) (int, error) { return rc.Do(requests[i]) }
	}
	return func(i int) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, target.String(), bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		if o.user != "" || o.password != "" {
			req.SetBasicAuth(o.user, o.password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

// measure warms up, then loads u with o.workers workers for o.duration (or
// o.count requests) and returns what it saw.
func measure(name string, target *url.URL, bodies [][]byte, o options) *result {
	client := newClient(o)
	defer client.CloseIdleConnections()
	var requests [][]byte
	if target.Scheme == "http" && !o.netHTTP {
		requests = rawRequests(target, bodies, o.user, o.password)
	}
	workers := make([]*worker, o.workers)
	for i := range workers {
		workers[i] = &worker{send: sender(target, bodies, requests, client, o), n: len(bodies),
			next: i * 7919, errors: map[string]int64{}}
	}
	phase := func(d time.Duration, count int, record bool) time.Duration {
		var sent atomic.Int64
		deadline := time.Now().Add(d)
		start := time.Now()
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				for {
					if count > 0 {
						if sent.Add(1) > int64(count) {
							return
						}
					} else if time.Now().After(deadline) {
						return
					}
					w.post(record)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	if o.warmup > 0 {
		phase(o.warmup, 0, false)
	}
	res := &result{name: name, errors: map[string]int64{}}
	res.elapsed = phase(o.duration, o.count, true)
	for _, w := range workers {
		res.ok += w.ok
		for k, v := range w.errors {
			res.errors[k] += v
		}
		res.lat = append(res.lat, w.lat...)
	}
	slices.Sort(res.lat)
	return res
}

func (r *result) perSecond(n int64) float64 { return float64(n) / r.elapsed.Seconds() }

func (r *result) percentile(p float64) time.Duration { return httpload.Percentile(r.lat, p) }

func (r *result) errorText() string {
	if len(r.errors) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(r.errors))
	for k := range r.errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s×%d ", k, r.errors[k])
	}
	return s[:len(s)-1]
}

// printResults prints a row for each result and the target's ratio to each
// ceiling; results end with the target.
func printResults(w io.Writer, results []*result, perBody int) {
	width := 8
	for _, r := range results {
		width = max(width, len(r.name))
	}
	fmt.Fprintf(w, "%-*s %10s %12s %12s %9s %9s  %s\n", width, "", "ok", "requests/s", "events/s", "p50", "p99", "errors")
	for _, r := range results {
		fmt.Fprintf(w, "%-*s %10d %12.0f %12.0f %9s %9s  %s\n", width, r.name, r.ok,
			r.perSecond(r.ok), r.perSecond(r.ok*int64(perBody)),
			r.percentile(0.50).Round(time.Microsecond), r.percentile(0.99).Round(time.Microsecond), r.errorText())
	}
	target := results[len(results)-1]
	for _, c := range results[:len(results)-1] {
		if c.ok > 0 {
			fmt.Fprintf(w, "ratio target/%s (requests/s): %.2f\n", c.name,
				target.perSecond(target.ok)/c.perSecond(c.ok))
		}
	}
}
