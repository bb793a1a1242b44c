package sim

import (
	"bytes"
	"context"
	"errors"
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

// PostOptions say where and how Post sends bodies.
type PostOptions struct {
	URL            *url.URL
	User, Password string // basic auth, when either is set
	// Concurrency is the number of workers, each with its own keep-alive
	// connection (default 8).
	Concurrency int
	// Timeout bounds one request (default 30s).
	Timeout time.Duration
	// Paced waits for each body's Due; otherwise bodies go as fast as the
	// workers take them.
	Paced bool
	// NetHTTP uses net/http's client instead of the lean built-in one
	// (always for https). HTTPClient, when set, is that client.
	NetHTTP    bool
	HTTPClient *http.Client
	// OnResult, when set, is called by a worker after each request, with
	// when it was written and when the answer (or the error) came.
	OnResult func(b *Body, sent, done time.Time, status int, err error)
	// Progress, when set, gets a line every ProgressEvery (default 5s).
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Report is what a Post run saw.
type Report struct {
	Elapsed   time.Duration    // from the start to the last answer
	Requests  int64            // bodies posted
	Events    int64            // events in them
	Acked     int64            // events in bodies answered 200
	Status    map[string]int64 // requests by status code, or "transport" when none came
	Latencies []time.Duration  // of every answered request, sorted
	MaxLate   time.Duration    // the longest a body waited past its Due for a free worker
	SimTime   time.Time        // the latest simulated time of the events posted
}

// Rate is the achieved rate, events posted a second.
func (r *Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// Write prints the report: rate, latency percentiles, status counts.
func (r *Report) Write(w io.Writer, target float64) {
	fmt.Fprintf(w, "sim: %d events in %d requests over %s: %.1f events/s", r.Events, r.Requests,
		r.Elapsed.Round(time.Millisecond), r.Rate())
	if target > 0 {
		fmt.Fprintf(w, " (target %g)", target)
	}
	fmt.Fprintf(w, ", %.1f requests/s\n", float64(r.Requests)/max(r.Elapsed.Seconds(), 1e-9))
	p := func(q float64) time.Duration { return httpload.Percentile(r.Latencies, q).Round(10 * time.Microsecond) }
	fmt.Fprintf(w, "latency: p50 %s, p90 %s, p99 %s, max %s\n", p(0.50), p(0.90), p(0.99), p(1))
	fmt.Fprintf(w, "status: %s; %d events acknowledged", r.statusText(), r.Acked)
	if r.MaxLate > 100*time.Millisecond {
		fmt.Fprintf(w, "; behind schedule by up to %s (all workers busy)", r.MaxLate.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
}

func (r *Report) statusText() string {
	keys := make([]string, 0, len(r.Status))
	for k := range r.Status {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s×%d", k, r.Status[k])
	}
	if len(b) == 0 {
		return "no requests"
	}
	return string(b)
}

// poster is one worker's state.
type poster struct {
	send   func(body []byte) (int, error)
	status map[string]int64
	lat    []time.Duration
	acked  int64
}

// Source gives bodies in order of Due; *Bodies is one.
type Source interface {
	Next() (Body, bool)
}

// counters are what the feeding loop has handed to the workers so far,
// read by the progress lines meanwhile.
type counters struct {
	requests, events atomic.Int64
	simNow           atomic.Int64 // Unix seconds of the latest event handed over
}

// Post sends the bodies to opt.URL until they run out or ctx ends, and
// reports what it saw. It fails only on a bad URL.
func Post(ctx context.Context, bodies Source, opt PostOptions) (*Report, error) {
	if opt.URL == nil || (opt.URL.Scheme != "http" && opt.URL.Scheme != "https") || opt.URL.Host == "" {
		return nil, errors.New("want an http:// or https:// URL")
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	var (
		work  = make(chan *Body)
		wg    sync.WaitGroup
		count counters
		start = time.Now()
	)
	workers := make([]*poster, opt.Concurrency)
	for i := range workers {
		w := &poster{send: sender(opt), status: map[string]int64{}}
		workers[i] = w
		wg.Go(func() {
			for b := range work {
				w.post(b, opt.OnResult)
			}
		})
	}
	stopProgress := progress(opt, start, &count)
	rep := &Report{Status: map[string]int64{}}
	feed(ctx, bodies, work, opt.Paced, start, rep, &count)
	close(work)
	wg.Wait()
	rep.Elapsed = time.Since(start)
	stopProgress()
	rep.Requests, rep.Events = count.requests.Load(), count.events.Load()
	for _, w := range workers {
		for k, v := range w.status {
			rep.Status[k] += v
		}
		rep.Latencies = append(rep.Latencies, w.lat...)
		rep.Acked += w.acked
	}
	slices.Sort(rep.Latencies)
	return rep, nil
}

// feed hands the bodies to the workers, each at its Due when paced, until
// they run out or ctx ends.
func feed(ctx context.Context, bodies Source, work chan<- *Body, paced bool, start time.Time, rep *Report, count *counters) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		b, ok := bodies.Next()
		if !ok {
			return
		}
		if wait := time.Until(start.Add(b.Due)); paced && wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case work <- &b:
		case <-ctx.Done():
			return
		}
		if late := time.Since(start) - b.Due; paced && late > rep.MaxLate {
			rep.MaxLate = late
		}
		count.requests.Add(1)
		count.events.Add(int64(len(b.Events)))
		for _, e := range b.Events {
			if e.At.After(rep.SimTime) {
				rep.SimTime = e.At
			}
		}
		count.simNow.Store(rep.SimTime.Unix())
	}
}

// post sends one body and records the outcome.
func (w *poster) post(b *Body, onResult func(*Body, time.Time, time.Time, int, error)) {
	sent := time.Now()
	code, err := w.send(b.JSON)
	done := time.Now()
	if onResult != nil {
		onResult(b, sent, done, code, err)
	}
	if err != nil {
		w.status["transport"]++
		return
	}
	w.status[strconv.Itoa(code)]++
	w.lat = append(w.lat, done.Sub(sent))
	if code == http.StatusOK {
		w.acked += int64(len(b.Events))
	}
}

// sender returns one worker's way of posting a body: the lean client for
// http:// URLs, else net/http's (one client shared by every worker, so its
// pool serves them all).
func sender(opt PostOptions) func([]byte) (int, error) {
	u := opt.URL
	if u.Scheme == "http" && !opt.NetHTTP {
		c := &httpload.Conn{Addr: u.Host, Timeout: opt.Timeout}
		return func(body []byte) (int, error) {
			return c.Do(httpload.Request(u, body, opt.User, opt.Password))
		}
	}
	client := opt.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: opt.Timeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: opt.Concurrency, MaxConnsPerHost: opt.Concurrency, DisableCompression: true}}
	}
	return func(body []byte) (int, error) {
		req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if opt.User != "" || opt.Password != "" {
			req.SetBasicAuth(opt.User, opt.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

// progress prints a line every opt.ProgressEvery until the returned stop.
func progress(opt PostOptions, start time.Time, count *counters) (stop func()) {
	if opt.Progress == nil {
		return func() {}
	}
	every := opt.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				el := now.Sub(start)
				n := count.events.Load()
				fmt.Fprintf(opt.Progress, "sim: %s: %d events in %d requests (%.0f events/s), simulated time %s\n",
					el.Round(time.Second), n, count.requests.Load(), float64(n)/el.Seconds(),
					time.Unix(count.simNow.Load(), 0).UTC().Format("2006-01-02 15:04"))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
