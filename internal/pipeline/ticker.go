package pipeline

import (
	"context"
	"log/slog"
	"time"
)

// Ticker appends clock ticks to the log so timers and windows advance when
// no event arrives. Only the node running the engine runs it.
type Ticker struct {
	Log      Log
	Every    time.Duration    // default 1s
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger
	failures int
}

// Run appends a tick every period until ctx ends. A failed append is
// logged (once per run of failures) and retried at the next period: a
// missed tick only delays timers, the next one catches up.
func (t *Ticker) Run(ctx context.Context) {
	every, now, log := t.Every, t.Now, t.Logger
	if every <= 0 {
		every = time.Second
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if _, err := t.Log.AppendTick(ctx, now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			if t.failures == 0 {
				log.Warn("clock tick not stored; timers wait", "err", err)
			}
			t.failures++
			continue
		}
		if t.failures > 0 {
			log.Info("clock ticks stored again", "missed", t.failures)
			t.failures = 0
		}
	}
}
