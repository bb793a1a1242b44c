package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heraldmail/herald/internal/httpload"
	"github.com/heraldmail/herald/internal/sim"
)

// probeRule fires a Slack message for one sent event in probeEvery; its
// text names the MessageID, so the sink can tell which POST it came from.
const probeRule = `
  # bench/measure e2e: the latency probe.
  - name: latency-probe
    on: sent
    if: MessageID %% %d == 0
    do:
      - slack: {text: "probe {{ MessageID }}"}
`

// runE2E measures webhook POST → call arriving at the fake Slack: herald
// serve with the given rules plus the probe rule, connections to the sinks,
// and herald sim's traffic at a fixed rate.
func runE2E(args []string) error {
	fs := flag.NewFlagSet("measure e2e", flag.ContinueOnError)
	bin := fs.String("herald", "./herald", "herald binary")
	rules := fs.String("rules", "rules.example.yaml", "rules file; the probe rule is appended")
	rate := fs.Float64("rate", 1000, "events a second")
	duration := fs.Duration("d", 30*time.Second, "how long to post")
	warmup := fs.Duration("warmup", 3*time.Second, "probes posted in the first warmup are not counted")
	every := fs.Int("probe-every", 10, "the probe fires for sent events whose MessageID is a multiple of this")
	version := fs.Int("version", 1, "Mailjet event API version of the bodies")
	conc := fs.Int("c", 8, "concurrent webhook requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "herald-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	arrivals := &probeLog{at: map[int64]time.Time{}}
	sinkURL, stopSinks, err := serveSinks(arrivals.record)
	if err != nil {
		return err
	}
	defer stopSinks()
	cfgPath, rulesPath, err := writeE2EFiles(dir, sinkURL, *rules, *every)
	if err != nil {
		return err
	}
	h, err := startHerald(*bin, cfgPath, rulesPath, filepath.Join(dir, "herald.log"))
	if err != nil {
		return err
	}
	defer h.stop(syscall.SIGTERM, 30*time.Second)
	if _, err := h.waitReady(30 * time.Second); err != nil {
		return err
	}

	posted := &probeLog{at: map[int64]time.Time{}}
	rep, err := postE2E(h, *rate, *duration, *version, *conc, *every, posted)
	if err != nil {
		return err
	}
	lat, missing := arrivals.latencies(posted, *warmup, 30*time.Second)
	printE2E(rep, lat, missing, *rate, *duration, *version, *every)
	if len(lat) == 0 {
		return errors.New("no probe arrived")
	}
	return nil
}

// probeLog keeps a time per probe MessageID.
type probeLog struct {
	mu    sync.Mutex
	at    map[int64]time.Time
	first time.Time
	cond  chan struct{} // signalled on each record
}

func (p *probeLog) put(id int64, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.at[id]; !dup {
		p.at[id] = t
	}
	if p.first.IsZero() || t.Before(p.first) {
		p.first = t
	}
	if p.cond != nil {
		select {
		case p.cond <- struct{}{}:
		default:
		}
	}
}

// record takes a sink call: a Slack probe's arrival.
func (p *probeLog) record(c sim.Call) {
	if id, ok := strings.CutPrefix(c.Text, "probe "); ok && c.Kind == "slack" && c.Status == http.StatusOK {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			p.put(n, c.At)
		}
	}
}

// latencies waits (at most wait) until every posted probe has arrived and
// returns their latencies, sorted, and how many never came.
func (p *probeLog) latencies(posted *probeLog, warmup, wait time.Duration) ([]time.Duration, int) {
	p.mu.Lock()
	p.cond = make(chan struct{}, 1)
	p.mu.Unlock()
	deadline := time.After(wait)
	for {
		p.mu.Lock()
		var lat []time.Duration
		missing := 0
		for id, sent := range posted.at {
			if sent.Sub(posted.first) < warmup {
				continue
			}
			if got, ok := p.at[id]; ok {
				lat = append(lat, got.Sub(sent))
			} else {
				missing++
			}
		}
		p.mu.Unlock()
		if missing == 0 {
			return sortDurations(lat), 0
		}
		select {
		case <-p.cond:
		case <-deadline:
			return sortDurations(lat), missing
		}
	}
}

// serveSinks runs herald sim's sinks on 127.0.0.1:0.
func serveSinks(onCall func(sim.Call)) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: sim.NewSinks(sim.SinkOptions{OnCall: onCall}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// writeE2EFiles writes herald.yaml (data under dir, connections to the
// sinks) and the rules with the probe appended.
func writeE2EFiles(dir, sinkURL, rules string, every int) (cfg, rulesOut string, err error) {
	base, err := os.ReadFile(rules)
	if err != nil {
		return "", "", err
	}
	cfg, rulesOut = filepath.Join(dir, "herald.yaml"), filepath.Join(dir, "rules.yaml")
	conf := fmt.Sprintf("data: %s\nlogging: {level: warn}\n%s", filepath.Join(dir, "data"), sim.Connections(sinkURL))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return "", "", err
	}
	r := strings.TrimRight(string(base), "\n") + "\n" + fmt.Sprintf(probeRule, every)
	return cfg, rulesOut, os.WriteFile(rulesOut, []byte(r), 0o600)
}

// postE2E posts herald sim's default traffic at rate for d, noting when
// each probe's body was written.
func postE2E(h *herald, rate float64, d time.Duration, version, conc, every int, posted *probeLog) (*sim.Report, error) {
	cfg := sim.DefaultConfig()
	cfg.Start = time.Now().UTC()
	cfg.MaxEvents = int(rate * d.Seconds())
	// Sends spread over a day, as many as events: opens, clicks and the
	// rest interleave with the sends as in a campaign under way.
	cfg.Recipients, cfg.SendOver, cfg.Horizon = cfg.MaxEvents, 24*time.Hour, 0
	g, err := sim.NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse("http://" + h.addr + "/webhooks/mailjet")
	return sim.Post(context.Background(), sim.NewBodies(g, sim.Schedule{Rate: rate, Version: version}), sim.PostOptions{
		URL: u, Concurrency: conc, Paced: true,
		OnResult: func(b *sim.Body, sent, _ time.Time, status int, err error) {
			if err != nil || status != http.StatusOK {
				return
			}
			for _, ev := range b.Events {
				if ev.Type == "sent" && !ev.Dup && ev.MessageID%int64(every) == 0 {
					posted.put(ev.MessageID, sent)
				}
			}
		},
	})
}

func printE2E(rep *sim.Report, lat []time.Duration, missing int, rate float64, d time.Duration, version, every int) {
	p := func(q float64) string { return fmtMS(httpload.Percentile(lat, q)) }
	w := func(q float64) string { return fmtMS(httpload.Percentile(rep.Latencies, q)) }
	fmt.Printf("traffic: herald sim's default mix, Version %d bodies, %.0f events/s requested for %s: %.0f events/s achieved, %d events, status %s\n",
		version, rate, d, rep.Rate(), rep.Events, statusText(rep.Status))
	fmt.Printf("webhook POST → 200: p50 %s, p90 %s, p99 %s, max %s ms\n", w(0.5), w(0.9), w(0.99), w(1))
	fmt.Printf("probes: Slack calls for sent events with MessageID %% %d == 0: %d arrived, %d missing\n", every, len(lat), missing)
	fmt.Printf("| e2e | %.0f | %.0f | %d | %s | %s | %s | %s | %d |\n", rate, rep.Rate(), len(lat), p(0.5), p(0.9), p(0.99), p(1), missing)
}

func statusText(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s×%d", k, v))
	}
	return strings.Join(parts, " ")
}

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}
