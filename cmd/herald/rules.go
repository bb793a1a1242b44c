package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"syscall"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/lease"
	"github.com/heraldmail/herald/internal/pipeline"
)

// defaultRulesFile is run by serve when no rules file is configured and it
// exists in the working directory.
const defaultRulesFile = "rules.yaml"

// rulesPath returns the rules file serve runs, or "" for none.
func (m *Main) rulesPath() string {
	if m.Config.Rules != "" {
		return m.Config.Rules
	}
	if _, err := os.Stat(defaultRulesFile); err == nil {
		return defaultRulesFile
	}
	return ""
}

// loadRules reads the rules file, checking actions against the configured
// connections. Without a file herald stores events and runs no rule.
func (m *Main) loadRules() (*engine.RuleSet, error) {
	path := m.rulesPath()
	if path == "" {
		return engine.Parse("(no rules file)", []byte("version: 1\nrules: []\n"), engine.ParseOptions{})
	}
	return engine.LoadFile(path, engine.ParseOptions{Connections: connectionTypes(m.Config)})
}

// startEngine loads the rules and starts the engine's part of herald: on
// every replica the reloaders (SIGHUP, file changes) and the election for
// the engine's lease; on the replica holding the lease the engine over
// the log and the clock ticker (runEngine). It runs until Close.
func (m *Main) startEngine(ctx context.Context) error {
	rs, err := m.loadRules()
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if m.rulesPath() == "" {
		m.Logger.Warn("no rules file (--rules or rules: in herald.yaml): events are stored, no rule runs")
	}
	for _, w := range rs.Warnings {
		m.Logger.Warn(w)
	}
	store, err := m.conn.ObjectStore(ctx, "herald_snapshots")
	if err != nil {
		return err
	}
	m.runner = newEngineRunner(rs.Version, m.Metrics, m.Logger)
	if m.runner.lease, err = m.newLease(ctx); err != nil {
		return err
	}
	m.runner.Runner = pipeline.New(pipeline.Options{
		Snapshots: &pipeline.Snapshots{Store: store, Logger: m.Logger},
		Log:       m.conn.Log(),
		Queue:     m.conn.Actions(),
		Actions:   m.conn.Actions().Stream(),
		Load:      m.loadRules,
		Rules:     rs,
		Engine:    engine.Options{DedupHorizon: m.Config.Webhook.DedupHorizon.D()},
		Metrics:   m.Metrics,
		Logger:    m.Logger,
		Held:      m.runner.lease.Held,
		Processed: m.hooks.processed,
		Suppress:  m.suppress,
	})
	ctx, m.stopEngine = context.WithCancel(context.WithoutCancel(ctx))
	m.engineWG.Add(3)
	go func() {
		defer m.engineWG.Done()
		m.runner.lease.Run(ctx, m.runEngine)
	}()
	go func() {
		defer m.engineWG.Done()
		m.reloadOnSIGHUP(ctx)
	}()
	go func() {
		defer m.engineWG.Done()
		m.reloadOnChange(ctx, m.rulesPath())
	}()
	m.Logger.Info("rules loaded", "file", rs.File, "version", rs.Version, "rules", len(rs.Rules))
	return nil
}

// newLease opens the lease bucket and returns this replica's side of the
// engine's lease.
func (m *Main) newLease(ctx context.Context) (*lease.Lease, error) {
	ttl := cmp.Or(m.hooks.leaseTTL, m.Config.Cluster.Lease.D(), lease.DefaultTTL)
	kv, err := m.conn.KV(ctx, lease.Bucket, lease.BucketConfig(ttl))
	if err != nil {
		return nil, err
	}
	if m.conn.Embedded() && m.Config.Embedded.Listen == "" {
		// No other process can reach this NATS server: a lease left by an
		// earlier run (killed) is stale, and waiting for its TTL would only
		// delay the engine.
		if err := kv.Delete(ctx, lease.DefaultKey); err != nil {
			return nil, fmt.Errorf("clearing a stale lease: %w", err)
		}
	}
	return lease.New(lease.Options{
		KV:          kv,
		TTL:         ttl,
		Rules:       m.runner.Version,
		OnChange:    m.leaseChanged,
		Logger:      m.Logger,
		Registerer:  m.Metrics.Registry,
		BeforeRenew: m.hooks.beforeRenew,
	}), nil
}

// leaseChanged checks the rules against the engine's when the lease's
// value changes (lease.Options.OnChange).
func (m *Main) leaseChanged(lease.Info, bool) {
	m.runner.checkRules()
	m.hooks.leaseChanged.call()
}

// runEngine runs the engine and the clock ticker while this replica holds
// the engine's lease: until ctx ends (the lease is lost, or Close) or the
// runner stops by itself on finding the lease lost.
func (m *Main) runEngine(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { (&pipeline.Ticker{Log: m.conn.Log(), Logger: m.Logger}).Run(ctx) })
	if err := m.runner.Run(ctx); err != nil {
		m.Logger.Error("engine stopped", "err", err)
		m.engineErr.Store(&err)
	}
	cancel()
	wg.Wait()
}

// reloadOnSIGHUP reloads the rules file on each SIGHUP.
func (m *Main) reloadOnSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			m.reload(ctx, "SIGHUP")
		}
	}
}

// reload reloads the rules and logs the outcome.
func (m *Main) reload(ctx context.Context, why string) {
	version, err := m.runner.Reload(ctx)
	m.hooks.reloaded.call()
	if err != nil {
		m.Logger.Error("rules not reloaded; the previous rules keep running", "trigger", why, "err", err)
		return
	}
	m.Logger.Info("rules reloaded", "trigger", why, "version", version)
}

// engineReady reports why the engine is not ready, or nil.
func (m *Main) engineReady(context.Context) error {
	if err := m.engineErr.Load(); err != nil {
		return fmt.Errorf("engine stopped: %w", *err)
	}
	return nil
}

// closeEngine stops the engine goroutines and waits for them.
func (m *Main) closeEngine() {
	if m.stopEngine != nil {
		m.stopEngine()
		m.engineWG.Wait()
	}
}

// engineState is the part of Main that runs the rules.
type engineState struct {
	runner     *engineRunner
	stopEngine context.CancelFunc
	engineWG   sync.WaitGroup
	engineErr  atomic.Pointer[error]
	hooks      engineHooks
}

// engineHooks let tests shorten the lease and watch or pause the engine;
// zero values change nothing.
type engineHooks struct {
	leaseTTL     time.Duration    // the lease time (default lease.DefaultTTL)
	beforeRenew  func()           // lease.Options.BeforeRenew
	processed    func(seq uint64) // pipeline.Options.Processed
	leaseChanged hook             // after the lease's value is seen to change and the rules checked against it
	reloaded     hook             // after each reload on SIGHUP or a file change, applied or not
}

// hook is a test hook that tells when something happened; nil does nothing.
type hook func()

func (h hook) call() {
	if h != nil {
		h()
	}
}

// reloadDebounce lets an editor finish writing before the file is read.
const reloadDebounce = 300 * time.Millisecond

// reloadOnChange reloads the rules when their file changes. It watches the
// directory, not the file: editors and deploy tools replace files by
// renaming, which ends a watch on the file itself.
func (m *Main) reloadOnChange(ctx context.Context, path string) {
	if path == "" {
		return
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		m.Logger.Warn("rules file not watched; reload with SIGHUP or POST /api/reload", "err", err)
		return
	}
	defer w.Close()
	abs, _ := filepath.Abs(path)
	if err := w.Add(filepath.Dir(abs)); err != nil {
		m.Logger.Warn("rules file not watched; reload with SIGHUP or POST /api/reload", "err", err)
		return
	}
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-w.Events:
			if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				debounce = time.After(reloadDebounce)
			}
		case err := <-w.Errors:
			m.Logger.Warn("watching the rules file", "err", err)
		case <-debounce:
			debounce = nil
			m.reload(ctx, "file change")
		}
	}
}
