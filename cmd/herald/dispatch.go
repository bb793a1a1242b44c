package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/heraldmail/herald/internal/dispatch"
	"github.com/heraldmail/herald/internal/suppress"
)

// dispatchState is the part of Main that delivers actions: every replica
// runs a dispatcher on the shared action queue.
type dispatchState struct {
	suppress     *suppress.Store
	dispatcher   *dispatch.Dispatcher
	stopDispatch context.CancelFunc
	dispatchWG   sync.WaitGroup
}

// openSuppressions opens the suppression list the engine writes and the
// dispatcher reads.
func (m *Main) openSuppressions(ctx context.Context) error {
	s, err := suppress.Open(ctx, m.conn)
	if err != nil {
		return fmt.Errorf("suppression list: %w", err)
	}
	m.suppress = s
	return nil
}

// startDispatcher builds the action clients of the configured connections
// and runs the dispatcher until Close. Connections without credentials,
// and every one with --dry-run, log their actions instead of running them;
// with no connection configured at all (the quick start) every action does.
func (m *Main) startDispatcher(ctx context.Context) error {
	runners, warnings, err := dispatch.Runners(m.Config.Connections, m.Config.DryRun, m.Logger)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		m.Logger.Warn(w)
	}
	allDry := len(m.Config.Connections) == 0
	if allDry {
		m.Logger.Warn("no connections configured: every action is logged as it would be sent (dry-run)")
	}
	d, err := dispatch.New(ctx, dispatch.Options{
		Conn:        m.conn,
		Runners:     runners,
		AllDry:      allDry,
		Suppress:    m.suppress,
		Concurrency: m.Config.Dispatch.Concurrency,
		MaxAttempts: m.Config.Dispatch.MaxAttempts,
		MaxAge:      m.Config.Dispatch.MaxAge.D(),
		BackoffBase: m.Config.Dispatch.BackoffBase.D(),
		BackoffMax:  m.Config.Dispatch.BackoffMax.D(),
		Timeout:     m.Config.Dispatch.Timeout.D(),
		Metrics:     m.Metrics,
		Logger:      m.Logger,
	})
	if err != nil {
		return err
	}
	m.dispatcher = d
	ctx, m.stopDispatch = context.WithCancel(context.WithoutCancel(ctx))
	m.dispatchWG.Go(func() {
		if err := d.Run(ctx); err != nil {
			m.Logger.Error("dispatcher stopped", "err", err)
		}
	})
	return nil
}

// closeDispatcher stops taking jobs and waits for attempts in flight (for
// at most the dispatcher's grace period).
func (m *Main) closeDispatcher() {
	if m.stopDispatch != nil {
		m.stopDispatch()
		m.dispatchWG.Wait()
	}
}
