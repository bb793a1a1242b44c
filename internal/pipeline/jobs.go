package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/streams"
)

// Job is one action of a firing, as queued for the dispatcher.
type Job struct {
	// ID is the firing id and the action's index: "<firing id>/<i>". It is
	// the queue's message id, so a job queued twice is stored once.
	ID       string        `json:"id"`
	FiringID string        `json:"firing"`
	Rule     string        `json:"rule"`
	At       time.Time     `json:"at"`
	Key      string        `json:"key,omitempty"`
	Resolve  bool          `json:"resolve,omitempty"`
	Shadow   bool          `json:"shadow,omitempty"`
	Email    string        `json:"email,omitempty"`
	Action   engine.Action `json:"action"`
	// Pos is the log position whose processing produced the job.
	Pos Position `json:"pos"`
}

// Position orders what the engine emits: the log record's sequence and the
// job's index among the jobs of that record.
type Position struct {
	Seq   uint64 `json:"seq"`
	Index int    `json:"index"`
}

func (p Position) String() string { return fmt.Sprintf("%d.%d", p.Seq, p.Index) }

func parsePosition(s string) (Position, error) {
	seq, idx, ok := strings.Cut(s, ".")
	if !ok {
		return Position{}, fmt.Errorf("position %q: want SEQ.INDEX", s)
	}
	sq, err1 := strconv.ParseUint(seq, 10, 64)
	ix, err2 := strconv.Atoi(idx)
	if err := errors.Join(err1, err2); err != nil {
		return Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	return Position{sq, ix}, nil
}

// Header names on queued jobs.
const (
	HeaderPosition = "Herald-Pos"
	HeaderRule     = "Herald-Rule"
	// HeaderUnit is the first log record of the unit the job was queued
	// with (Runner.process): the restart fence.
	HeaderUnit = "Herald-Unit"
)

// SubjectPrefix is where jobs are published: herald.actions.<rule>.
const SubjectPrefix = "herald.actions."

// jobs splits a firing into its jobs. A shadow firing, or a firing without
// actions, is still queued once (with an empty action) so it is recorded.
func jobs(f *engine.Firing, seq uint64, next *int) []Job {
	acts := f.Actions
	if len(acts) == 0 {
		acts = []engine.Action{{}}
	}
	out := make([]Job, len(acts))
	for i, a := range acts {
		out[i] = Job{ID: fmt.Sprintf("%s/%d", f.ID, i), FiringID: f.ID, Rule: f.Rule, At: f.At, Key: f.Key,
			Resolve: f.Resolve, Shadow: f.Shadow, Email: f.Email, Action: a, Pos: Position{seq, *next}}
		*next++
	}
	return out
}

// Publisher stores jobs on the action stream. *streams.Queue implements it.
type Publisher interface {
	PublishAll(ctx context.Context, msgs []streams.Message) (rest []streams.Message, err error)
}

// jobMessage is j as a message of the action stream, under its id,
// queued with the unit of log records that starts at unit.
func jobMessage(j *Job, unit uint64) (streams.Message, error) {
	data, err := json.Marshal(j)
	if err != nil {
		return streams.Message{}, fmt.Errorf("job %s: %w", j.ID, err)
	}
	hdr := nats.Header{}
	hdr.Set(HeaderPosition, j.Pos.String())
	hdr.Set(HeaderRule, j.Rule)
	hdr.Set(HeaderUnit, strconv.FormatUint(unit, 10))
	return streams.Message{Subject: SubjectPrefix + j.Rule, ID: j.ID, Data: data, Header: hdr}, nil
}

// lastPosition returns the restart fence: the first log record of the
// unit of the newest job on the action stream (its own record for jobs
// queued before units). On restart the engine replays the log and queues
// nothing before it, as JetStream's duplicate window may be shorter than
// the downtime; the unit's jobs may be incomplete and are queued again.
func lastPosition(ctx context.Context, s jetstream.Stream) (Position, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return Position{}, fmt.Errorf("action stream: %w", err)
	}
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0; seq-- {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return Position{}, fmt.Errorf("action stream: newest job: %w", err)
		}
		if unit := msg.Header.Get(HeaderUnit); unit != "" {
			seq, err := strconv.ParseUint(unit, 10, 64)
			if err != nil {
				return Position{}, fmt.Errorf("action stream: newest job: %s %q", HeaderUnit, unit)
			}
			return Position{Seq: seq}, nil
		}
		return parsePosition(msg.Header.Get(HeaderPosition))
	}
	return Position{}, nil
}

// Recent reads up to limit jobs from the newest back, of one rule or of all
// when rule is "".
func Recent(ctx context.Context, s jetstream.Stream, rule string, limit int) ([]Job, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("action stream: %w", err)
	}
	var out []Job
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && len(out) < limit; seq-- {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("action stream: %w", err)
		}
		if rule != "" && msg.Header.Get(HeaderRule) != rule {
			continue
		}
		var j Job
		if err := UnmarshalExact(msg.Data, &j); err != nil {
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

// UnmarshalExact decodes JSON like json.Unmarshal but keeps numbers in
// untyped values (action params) as json.Number: Mailjet ids exceed 2^53
// and must not pass through float64 on their way through the queue.
func UnmarshalExact(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}
