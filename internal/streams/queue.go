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
	m := Message{Subject: subject, ID: id, Data: data, Header: hdr}
	if err := checkQueueMsg(m); err != nil {
		return 0, false, err
	}
	msg := natsMsg(m)
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	ack, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	if err != nil {
		return 0, false, fmt.Errorf("%w: publish to %s: %w", ErrUnavailable, StreamActions, err)
	}
	return ack.Sequence, ack.Duplicate, nil
}

// Message is one message for PublishAll.
type Message struct {
	Subject string
	ID      string // the Nats-Msg-Id, when not "": a message with an ID stored before is dropped
	Data    []byte
	Header  nats.Header
}

// publishWave bounds the publishes in flight at once, well below the
// client's limit of pending asynchronous publishes (4,000).
const publishWave = 512

// PublishAll stores msgs on the action stream, as Conn.PublishAll does.
// Every message needs an ID: one whose acknowledgement was lost is then
// dropped as a duplicate when published again (within the stream's
// duplicate window).
func (q *Queue) PublishAll(ctx context.Context, msgs []Message) (rest []Message, err error) {
	for _, m := range msgs {
		if err := checkQueueMsg(m); err != nil {
			return msgs, err
		}
	}
	return publishAll(ctx, q.js, q.timeout, msgs)
}

// PublishAll publishes msgs to their streams. It sends them without
// waiting for each acknowledgement in turn, waits for every one, and
// returns the messages that were not acknowledged (stored, or dropped as a
// duplicate of their ID) with the first error: publish those again, not
// the others. It waits at most Options.Timeout per wave of publishes and
// wraps failures with ErrUnavailable.
func (c *Conn) PublishAll(ctx context.Context, msgs []Message) (rest []Message, err error) {
	return publishAll(ctx, c.js, c.opts.Timeout, msgs)
}

func publishAll(ctx context.Context, js jetstream.JetStream, timeout time.Duration, msgs []Message) ([]Message, error) {
	for i := 0; i < len(msgs); i += publishWave {
		wave := msgs[i:min(len(msgs), i+publishWave)]
		if rest, err := publishOneWave(ctx, js, timeout, wave); err != nil {
			return append(rest, msgs[i+len(wave):]...), err
		}
	}
	return nil, nil
}

// publishOneWave publishes msgs and returns those not acknowledged, in
// their order, with the first error.
func publishOneWave(ctx context.Context, js jetstream.JetStream, timeout time.Duration, msgs []Message) ([]Message, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	failed := make([]bool, len(msgs))
	var first error
	fail := func(i int, err error) {
		failed[i] = true
		if first == nil {
			first = fmt.Errorf("%w: publish to %s: %w", ErrUnavailable, msgs[i].Subject, err)
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for i, m := range msgs {
		var opts []jetstream.PublishOpt
		if m.ID != "" {
			opts = append(opts, jetstream.WithMsgID(m.ID))
		}
		f, err := js.PublishMsgAsync(natsMsg(m), opts...)
		if err != nil { // not sent, nor is the rest of the wave
			for k := i; k < len(msgs); k++ {
				fail(k, err)
			}
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok(): // acknowledged already: even when ctx has ended
			continue
		default:
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			fail(i, err)
		case <-ctx.Done():
			fail(i, ctx.Err())
		}
	}
	var rest []Message
	for i, m := range msgs {
		if failed[i] {
			rest = append(rest, m)
		}
	}
	return rest, first
}

// checkQueueMsg checks m, a message for the action queue.
func checkQueueMsg(m Message) error {
	if !strings.HasPrefix(m.Subject, SubjectActionsPrefix) {
		return fmt.Errorf("queue subject %q does not start with %q", m.Subject, SubjectActionsPrefix)
	}
	if m.ID == "" {
		return errors.New("queue publish: empty id")
	}
	return nil
}

// natsMsg makes the message to send, with a header of its own (the client
// adds the ID to it; the caller's is not modified).
func natsMsg(m Message) *nats.Msg {
	msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: make(nats.Header, len(m.Header)+1)}
	for k, v := range m.Header {
		msg.Header[k] = v
	}
	return msg
}
