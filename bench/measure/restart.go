package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/heraldmail/herald/internal/sim"
)

// runRestart measures how long herald takes to come back: with `pending`
// promo sends in the engine (each an absence timer of no-open-reminder and
// an entry of open-discount's sequence in rules.example.yaml), after a
// clean stop (the final snapshot covers everything) and after a SIGKILL
// with `after` more events in the log since the last snapshot.
func runRestart(args []string) error {
	fs := flag.NewFlagSet("measure restart", flag.ContinueOnError)
	bin := fs.String("herald", "./herald", "herald binary")
	rules := fs.String("rules", "rules.example.yaml", "rules file")
	pending := fs.Int("pending", 200_000, "promo sends before the snapshot")
	after := fs.Int("after", 100_000, "events after the last snapshot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "herald-restart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(cfg, []byte("data: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "herald.log")
	start := func() (*herald, error) { return startHerald(*bin, cfg, *rules, logPath, "--dry-run") }
	bodies, err := sendsOnly(*pending + *after)
	if err != nil {
		return err
	}

	// 1. Fill: the pending sends, then a clean stop (final snapshot).
	h, err := start()
	if err != nil {
		return err
	}
	if _, err := h.waitReady(time.Minute); err != nil {
		return err
	}
	fill := time.Now()
	n, err := post(h, bodies, *pending)
	if err != nil {
		return err
	}
	if _, err := h.waitMetric("herald_events_received_total", float64(n), 10*time.Minute); err != nil {
		return err
	}
	fmt.Printf("filled: %d sends posted and consumed in %s\n", n, time.Since(fill).Round(time.Millisecond))
	pos, _ := h.metric("herald_engine_log_position")
	stopStart := time.Now()
	if err := h.stop(syscall.SIGTERM, 5*time.Minute); err != nil {
		return err
	}
	fmt.Printf("clean stop (final snapshot) took %s\n", time.Since(stopStart).Round(time.Millisecond))

	// 2. Restart from the snapshot; then more events, and a crash.
	h, err = start()
	if err != nil {
		return err
	}
	ready, caught, err := comeBack(h, pos, 0)
	if err != nil {
		return err
	}
	printRestart("clean stop", n, 0, ready, caught)
	m, err := post(h, bodies, *after)
	if err != nil {
		return err
	}
	if _, err := h.waitMetric("herald_events_received_total", float64(m), 10*time.Minute); err != nil {
		return err
	}
	pos, _ = h.metric("herald_engine_log_position")
	snaps, _ := h.metric("herald_snapshot_duration_seconds_count")
	if snaps > 0 {
		fmt.Printf("warning: a periodic snapshot was taken before the kill: fewer than %d events follow the last snapshot\n", m)
	}
	if err := h.stop(syscall.SIGKILL, time.Minute); err != nil {
		return err
	}

	// 3. Restart after the crash: snapshot + replay of the events after it.
	h, err = start()
	if err != nil {
		return err
	}
	defer h.stop(syscall.SIGTERM, 5*time.Minute)
	ready, caught, err = comeBack(h, pos, m)
	if err != nil {
		return err
	}
	printRestart("SIGKILL", n, m, ready, caught)
	return nil
}

// sendsOnly is herald sim's traffic reduced to promo sends, in Version 2
// bodies of 1,000 events, posted as fast as herald takes them.
func sendsOnly(n int) (*sim.Bodies, error) {
	cfg := sim.DefaultConfig()
	cfg.Start = time.Now().UTC()
	cfg.Recipients, cfg.MaxEvents, cfg.SendOver, cfg.Horizon = n, n, time.Hour, 0
	cfg.Block, cfg.BlockDomains, cfg.Bounce, cfg.Open, cfg.Spam, cfg.Dup = 0, nil, 0, 0, 0, 0
	g, err := sim.NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	return sim.NewBodies(g, sim.Schedule{Rate: 1e6, Version: 2, Window: time.Second, MaxBatch: 1000}), nil
}

// post sends the bodies that hold the next n events (a little more when n
// falls inside a body) and returns how many events it sent.
func post(h *herald, bodies *sim.Bodies, n int) (int, error) {
	u, _ := url.Parse("http://" + h.addr + "/webhooks/mailjet")
	src := &limited{bodies: bodies, left: n}
	rep, err := sim.Post(context.Background(), src, sim.PostOptions{URL: u, Concurrency: 4})
	if err != nil {
		return 0, err
	}
	if rep.Acked != rep.Events {
		return 0, fmt.Errorf("%d of %d events acknowledged: %v", rep.Acked, rep.Events, rep.Status)
	}
	return int(rep.Events), nil
}

// limited passes bodies on until it has passed n events.
type limited struct {
	bodies *sim.Bodies
	left   int
}

func (l *limited) Next() (sim.Body, bool) {
	if l.left <= 0 {
		return sim.Body{}, false
	}
	b, ok := l.bodies.Next()
	l.left -= len(b.Events)
	return b, ok
}

// comeBack waits for the restarted herald to answer /readyz and for its
// engine to reach the log position pos with `events` events replayed.
func comeBack(h *herald, pos float64, events int) (ready, caught time.Duration, err error) {
	if ready, err = h.waitReady(5 * time.Minute); err != nil {
		return 0, 0, err
	}
	// The engine is caught up when it has applied the record at pos: the
	// position gauge says so once a record follows the snapshot; when the
	// snapshot covers pos already, its log line says when it was loaded.
	deadline := time.Now().Add(10 * time.Minute)
	for caught == 0 {
		if p, at, ok := h.restored(); ok && p >= pos {
			caught = at
		} else if v, err := h.metric("herald_engine_log_position"); err == nil && v >= pos {
			caught = time.Since(h.started)
		} else if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("engine not at position %v after 10 minutes", pos)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if events > 0 {
		if _, err = h.waitMetric("herald_events_received_total", float64(events), time.Minute); err != nil {
			return 0, 0, err
		}
	}
	return ready, caught, nil
}

func printRestart(how string, pending, after int, ready, caught time.Duration) {
	fmt.Printf("| restart after %s | %d | %d | %s | %s |\n", how, pending, after,
		ready.Round(time.Millisecond), caught.Round(time.Millisecond))
}
