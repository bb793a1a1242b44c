package pipeline

import (
	"context"
	"log/slog"
	"time"
)

// Back-off of retry.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// retry calls f until it succeeds or ctx ends (then it returns ctx.Err()),
// waiting with exponential back-off in between. It logs the first failure
// and the recovery, not every attempt.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	wait := retryFirst
	for failures := 0; ; failures++ {
		err := f()
		if err == nil {
			if failures > 0 {
				log.Info(what+": working again", "failures", failures)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if failures == 0 {
			log.Warn(what+": failed; retrying", "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}
