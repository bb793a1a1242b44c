package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/pipeline"
)

// StatusBucket is the KV bucket of delivery statuses, keyed by job id
// (see Key).
const StatusBucket = "herald_status"

// Delivery statuses.
const (
	StatusQueued     = "queued" // no attempt yet (not stored: the absence of a status)
	StatusSent       = "sent"
	StatusRetrying   = "retrying"
	StatusDead       = "dead"
	StatusSuppressed = "suppressed"
	StatusShadow     = "shadow"
	StatusDryRun     = "dry-run"
	StatusDropped    = "dropped"
	// StatusNone is shown for a firing without actions, recorded only.
	StatusNone = "none"
)

// Status is a job's delivery status.
type Status struct {
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
	// FirstAttempt is when the current round of attempts started (a retry
	// from dead letters starts a new round); MaxAge counts from it.
	FirstAttempt time.Time `json:"first_attempt,omitzero"`
	// NextAttempt is when a retrying job is due again.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Remaining are the params the next attempt sends when they differ
	// from the job's: after a partial delivery, only what failed.
	Remaining map[string]any `json:"remaining,omitempty"`
	// Requeues counts retries from dead letters.
	Requeues int `json:"requeues,omitempty"`
}

// final reports whether the job needs no more attempts: a copy of it
// delivered again (a lost ack, or queued twice beyond the duplicate
// window) is acknowledged without running.
func (s *Status) final() bool {
	switch s.Status {
	case StatusSent, StatusDead, StatusSuppressed, StatusShadow, StatusDryRun, StatusDropped:
		return true
	}
	return false
}

// Key maps a job id to a KV key (and a subject token): letters, digits,
// '-', '_' and '/' stay, every other byte becomes "=XX" (hex).
func Key(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02x", c)
		}
	}
	return b.String()
}

// getStatus returns the job's status; found is false when it has none.
func (d *Dispatcher) getStatus(ctx context.Context, id string) (st Status, found bool, err error) {
	e, err := d.status.Get(ctx, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{Status: StatusQueued}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("status of %s: %w", id, err)
	}
	if err := pipeline.UnmarshalExact(e.Value(), &st); err != nil {
		return Status{}, false, fmt.Errorf("status of %s: %w", id, err)
	}
	return st, true, nil
}

// putStatus stores the job's status.
func (d *Dispatcher) putStatus(ctx context.Context, id string, st *Status) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("status of %s: %w", id, err)
	}
	if _, err := d.status.Put(ctx, Key(id), data); err != nil {
		return fmt.Errorf("status of %s: %w", id, err)
	}
	return nil
}

// Firing is a queued job with its delivery status, as /api/firings shows
// it.
type Firing struct {
	pipeline.Job
	Status
}

// Firings returns up to limit recent jobs of rule ("" for every rule),
// newest first, each with its delivery status, as a []Firing. A job
// queued again from dead letters is listed once.
func (d *Dispatcher) Firings(ctx context.Context, rule string, limit int) (any, error) {
	jobs, err := pipeline.Recent(ctx, d.queue.Stream(), rule, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Firing, 0, len(jobs))
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		if seen[j.ID] {
			continue
		}
		seen[j.ID] = true
		st, _, err := d.getStatus(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		if j.Action.Kind == "" && !j.Shadow {
			st.Status = StatusNone
		}
		out = append(out, Firing{Job: j, Status: st})
	}
	return out, nil
}
