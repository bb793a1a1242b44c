package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the action queue.
const (
	StreamActions        = "HERALD_ACTIONS"
	SubjectActionsPrefix = "herald.actions." // every queue subject starts with it
)

// Queue is the action queue: the stream HERALD_ACTIONS, where the engine
// publishes firings and the dispatcher consumes them.
type Queue struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	timeout time.Duration
}

// openQueue creates or updates HERALD_ACTIONS: file storage, limits
// retention (messages stay after delivery, so the engine can read the
// newest firing back on start), DiscardNew, deduplication by Nats-Msg-Id
// within Options.ActionsDuplicates.
func (c *Conn) openQueue(ctx context.Context) (*Queue, error) {
	maxAge := max(c.opts.ActionsMaxAge, 0)
	cfg := jetstream.StreamConfig{
		Name:        StreamActions,
		Description: "herald action queue: rule firings by id",
		Subjects:    []string{SubjectActionsPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxAge:      maxAge,
		MaxBytes:    c.opts.ActionsMaxBytes,
		MaxMsgs:     -1,
		Replicas:    c.replicas,
		AllowDirect: true,
		Duplicates:  dupWindow(c.opts.ActionsDuplicates, maxAge),
	}
	s, err := c.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamActions, err)
	}
	return &Queue{js: c.js, stream: s, timeout: c.opts.Timeout}, nil
}

// Stream returns the underlying stream, for the dispatcher's consumers
// and for reading the newest firing (GetLastMsgForSubject).
func (q *Queue) Stream() jetstream.Stream { return q.stream }

// Publish stores data on subject (which must start with
// "herald.actions.") with id as its Nats-Msg-Id and the extra headers hdr
// (may be nil; it is not modified). dup is true when the stream already
// had a message with this id within the duplicate window: nothing new was
// stored and seq is the earlier message's. Like Log.Append it returns
// after the server acknowledged, waits at most Options.Timeout, and wraps
// failures with ErrUnavailable.
func (q *Queue) Publish(ctx context.Context, subject, id string, data []byte, hdr nats.Header) (seq uint64, dup bool, err error) {
	if !strings.HasPrefix(subject, SubjectActionsPrefix) {
		return 0, false, fmt.Errorf("queue subject %q does not start with %q", subject, SubjectActionsPrefix)
	}
	if id == "" {
		return 0, false, errors.New("queue publish: empty id")
	}
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	for k, v := range hdr {
		msg.Header[k] = v
	}
	ack, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	if err != nil {
		return 0, false, fmt.Errorf("%w: publish to %s: %w", ErrUnavailable, StreamActions, err)
	}
	return ack.Sequence, ack.Duplicate, nil
}
