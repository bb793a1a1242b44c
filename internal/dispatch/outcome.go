package dispatch

import (
	"context"
	"errors"
	"time"

	"github.com/heraldmail/herald/actions"
)

// result is what an attempt's outcome asks the dispatcher to do.
type result int

const (
	delivered   result = iota // done: acknowledge
	retry                     // try again after a delay
	permanent                 // retrying will not help: dead letter
	interrupted               // the dispatcher is stopping: deliver again later, not a failure
)

// outcome is an attempt's classified result.
type outcome struct {
	result result
	// after is the delay the receiver asked for (Retry-After), or 0.
	after time.Duration
	// remaining, when not nil, are the params still to deliver after a
	// partial delivery: the next attempt or the dead letter uses them.
	remaining map[string]any
	err       error
}

// classify judges the error of an attempt run under ctx. It is the one
// place that decides between success, retry, dead letter and
// interruption; the action kinds' shared classification
// (actions.Retryable) decides what is retryable.
func classify(ctx context.Context, err error) outcome {
	if err == nil {
		return outcome{result: delivered}
	}
	o := outcome{err: err}
	// A partial delivery narrows what is left whatever else the error
	// says, a cancellation included (actions/doc.go).
	var pe *actions.PartialError
	if errors.As(err, &pe) {
		o.remaining = pe.Failed
	}
	canRetry, after := actions.Retryable(err)
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		o.result = interrupted
	case canRetry:
		o.result, o.after = retry, after
	default:
		o.result = permanent
	}
	return o
}

// backoff returns the delay before the attempt after attempt n (n ≥ 1):
// "full jitter", a random duration in [0, min(BackoffMax, BackoffBase·2^(n-1))].
func (d *Dispatcher) backoff(n int) time.Duration {
	ceiling := d.opt.BackoffBase
	for i := 1; i < n && ceiling < d.opt.BackoffMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, d.opt.BackoffMax)
	return time.Duration(d.opt.Rand(int64(ceiling) + 1))
}

// retryDelay is the delay before the next attempt after a retryable
// failure of attempt n: the back-off, or the receiver's Retry-After when
// that is longer.
func (d *Dispatcher) retryDelay(n int, after time.Duration) time.Duration {
	return max(d.backoff(n), after)
}
