package dispatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/pipeline"
	"github.com/heraldmail/herald/internal/server"
	"github.com/heraldmail/herald/internal/streams"
)

// Names of the dead-letter stream.
const (
	StreamDead        = "HERALD_DEAD"
	SubjectDeadPrefix = "herald.dead." // + Key(job id)
	// HeaderRequeue on a job queued again from dead letters counts the
	// requeues.
	HeaderRequeue = "Herald-Requeue"
)

// DeadLetter is a job that failed for good.
type DeadLetter struct {
	ID string `json:"id"`
	// Job is the job with the params of its last attempt: after a partial
	// delivery, only what was not delivered.
	Job          pipeline.Job `json:"job"`
	Error        string       `json:"error"`
	Attempts     int          `json:"attempts"`
	FirstAttempt time.Time    `json:"first_attempt"`
	LastAttempt  time.Time    `json:"last_attempt"`
	Requeues     int          `json:"requeues,omitempty"`
}

// openDead creates or updates HERALD_DEAD: one message per job id (a job
// dead-lettered again replaces its entry), removed by purging its subject,
// so the stream's message count is the number of dead letters.
func openDead(ctx context.Context, c *streams.Conn) (jetstream.Stream, error) {
	s, err := c.JetStream().CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              StreamDead,
		Description:       "herald dead letters: actions that failed for good, by job id",
		Subjects:          []string{SubjectDeadPrefix + ">"},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Discard:           jetstream.DiscardNew,
		MaxBytes:          1 << 30,
		MaxMsgs:           -1,
		MaxMsgsPerSubject: 1,
		Replicas:          c.Replicas(),
		AllowDirect:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamDead, err)
	}
	return s, nil
}

func deadSubject(id string) string { return SubjectDeadPrefix + Key(id) }

// putDead stores a dead letter.
func (d *Dispatcher) putDead(ctx context.Context, dl *DeadLetter) error {
	data, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("dead letter %s: %w", dl.ID, err)
	}
	if _, err := d.opt.Conn.JetStream().Publish(ctx, deadSubject(dl.ID), data); err != nil {
		return fmt.Errorf("dead letter %s: %w", dl.ID, err)
	}
	return nil
}

// getDead returns the dead letter of job id, or an error wrapping
// server.ErrNotFound.
func (d *Dispatcher) getDead(ctx context.Context, id string) (*DeadLetter, error) {
	msg, err := d.dead.GetLastMsgForSubject(ctx, deadSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("dead letter %q: %w", id, server.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("dead letter %q: %w", id, err)
	}
	var dl DeadLetter
	if err := pipeline.UnmarshalExact(msg.Data, &dl); err != nil {
		return nil, fmt.Errorf("dead letter %q: %w", id, err)
	}
	return &dl, nil
}

func (d *Dispatcher) removeDead(ctx context.Context, id string) error {
	if err := d.dead.Purge(ctx, jetstream.WithPurgeSubject(deadSubject(id))); err != nil {
		return fmt.Errorf("remove dead letter %q: %w", id, err)
	}
	return nil
}

// countDead returns the number of dead letters.
func (d *Dispatcher) countDead(ctx context.Context) (uint64, error) {
	info, err := d.dead.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// DeadLetters returns up to limit dead letters, the newest first, as a
// []DeadLetter.
func (d *Dispatcher) DeadLetters(ctx context.Context, limit int) (any, error) {
	info, err := d.dead.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := []DeadLetter{}
	// Forward by subject skips the gaps left by removed entries.
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; {
		msg, err := d.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(SubjectDeadPrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		var dl DeadLetter
		if err := pipeline.UnmarshalExact(msg.Data, &dl); err == nil {
			out = append(out, dl)
		}
		seq = msg.Sequence + 1
	}
	slices.SortStableFunc(out, func(a, b DeadLetter) int { return b.LastAttempt.Compare(a.LastAttempt) })
	return out[:min(len(out), max(limit, 0))], nil
}

// Retry queues the dead letter of job id again, with the params of its
// last attempt, and removes it from dead letters. Its delivery starts
// again at attempt 1.
func (d *Dispatcher) Retry(ctx context.Context, id string) error {
	dl, err := d.getDead(ctx, id)
	if err != nil {
		return err
	}
	n := dl.Requeues + 1
	st := &Status{Status: StatusQueued, Updated: d.opt.Now().UTC(), Requeues: n, LastError: dl.Error}
	// The status goes first: a copy delivered before it changed would
	// find the job dead and skip it.
	if err := d.putStatus(ctx, id, st); err != nil {
		return err
	}
	if err := d.requeue(ctx, dl, n); err != nil {
		restore := &Status{Status: StatusDead, Attempts: dl.Attempts, LastError: dl.Error, Updated: st.Updated, Requeues: dl.Requeues}
		if rerr := d.putStatus(context.WithoutCancel(ctx), id, restore); rerr != nil {
			d.log.Error("dispatch: restore dead status", "job", id, "err", rerr)
		}
		return err
	}
	d.log.Info("dead letter queued again", "job", id, "requeue", n)
	return d.removeDead(ctx, id)
}

// Drop removes the dead letter of job id for good; its status becomes
// dropped.
func (d *Dispatcher) Drop(ctx context.Context, id string) error {
	dl, err := d.getDead(ctx, id)
	if err != nil {
		return err
	}
	if err := d.removeDead(ctx, id); err != nil {
		return err
	}
	d.log.Info("dead letter dropped", "job", id)
	st := &Status{Status: StatusDropped, Attempts: dl.Attempts, LastError: dl.Error, Updated: d.opt.Now().UTC(), Requeues: dl.Requeues}
	return d.putStatus(ctx, id, st)
}

// requeue publishes the dead letter's job on the action queue under the
// message id "<job id>#r<n>", which JetStream has not seen.
//
// The engine reads the newest message of the queue on start and queues
// nothing up to its position (pipeline's restart fence), so the copy must
// not carry the old job's position: it carries the newest one on the
// queue, and is published only if no message was added since that was
// read (Nats-Expected-Last-Sequence), trying again otherwise.
func (d *Dispatcher) requeue(ctx context.Context, dl *DeadLetter, n int) error {
	data, err := json.Marshal(dl.Job)
	if err != nil {
		return fmt.Errorf("requeue %s: %w", dl.ID, err)
	}
	msgID := fmt.Sprintf("%s#r%d", dl.ID, n)
	for try := 0; ; try++ {
		last, pos, err := d.newest(ctx)
		if err != nil {
			return fmt.Errorf("requeue %s: %w", dl.ID, err)
		}
		hdr := nats.Header{}
		hdr.Set(pipeline.HeaderRule, dl.Job.Rule)
		hdr.Set(pipeline.HeaderPosition, cmp.Or(pos, dl.Job.Pos.String()))
		hdr.Set(HeaderRequeue, strconv.Itoa(n))
		hdr.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(last, 10))
		_, _, err = d.queue.Publish(ctx, pipeline.SubjectPrefix+dl.Job.Rule, msgID, data, hdr)
		var apiErr *jetstream.APIError
		if err != nil && try < 10 && errors.As(err, &apiErr) &&
			(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			continue // the engine queued something meanwhile
		}
		if err != nil {
			return fmt.Errorf("requeue %s: %w", dl.ID, err)
		}
		return nil
	}
}

// newest returns the action queue's last sequence and the position header
// of its newest message ("" when it has none).
func (d *Dispatcher) newest(ctx context.Context) (last uint64, pos string, err error) {
	s := d.queue.Stream()
	info, err := s.Info(ctx)
	if err != nil {
		return 0, "", err
	}
	last = info.State.LastSeq
	for seq := last; seq >= info.State.FirstSeq && seq > 0; seq-- {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, "", err
		}
		return last, msg.Header.Get(pipeline.HeaderPosition), nil
	}
	return last, "", nil
}
