package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readBufferBytes bounds the bytes an ordered consumer has in flight. It
// is raised to fit the largest message, which must fit in one pull.
const readBufferBytes = 32 << 20

// Read calls fn with every record (events and ticks) whose Seq >= from, in
// log order, then with each new record as it is appended, until ctx is
// done (it returns ctx.Err()) or fn returns an error (returned as is).
//
// Records are consecutive: if the record at from, or any later one, is
// missing (expired by max_age, or deleted) Read returns an error wrapping
// ErrGap instead of skipping it. from 0 starts at the oldest record still
// in the log, whatever its sequence.
//
// Read uses an ordered consumer: ephemeral, flow-controlled, recreated
// after the last delivered record if the connection or server blips. As a
// guard against a consumer that stalls silently (seen after a cluster
// fail-over), when no record arrives for readStall while the log holds
// records past the last one delivered, Read starts a new consumer there.
func (l *Log) Read(ctx context.Context, from uint64, fn func(Record) error) error {
	next := from
	for {
		stalled, err := l.readFrom(ctx, &next, fn)
		if !stalled {
			return err
		}
		l.logger.Warn("the event log reader stalled; starting a new one", "at", next)
	}
}

// readStall is how long Read waits for a record before it checks whether
// the log has more. A consumer that delivers nothing for that long while
// the log has more is replaced: under CPU contention on a cluster, an
// ordered consumer created at a fail-over has been seen to deliver
// nothing, and the new holder's engine then waited this long (5 s before).
// One second keeps that well within a lease; the check is one stream info
// request.
const readStall = time.Second

// readFrom runs one ordered consumer from *next, advancing *next past each
// record given to fn. stalled reports that the consumer stopped delivering
// records the log holds.
func (l *Log) readFrom(ctx context.Context, next *uint64, fn func(Record) error) (stalled bool, err error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if *next > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, *next
	}
	// Creating the consumer has been seen to hang past a fail-over: bound
	// it, and try again.
	cctx, cancel := context.WithTimeout(ctx, 10*readStall)
	cons, err := l.js.OrderedConsumer(cctx, StreamLog, cfg)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return true, nil
		}
		return false, fmt.Errorf("read %s: %w", StreamLog, err)
	}
	buf := max(readBufferBytes, int(l.nc.MaxPayload())+headerRoom)
	it, err := cons.Messages(jetstream.PullMaxBytes(buf))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", StreamLog, err)
	}
	defer it.Stop()
	for {
		wait, cancel := context.WithTimeout(ctx, readStall)
		msg, err := it.Next(jetstream.NextContext(wait))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				if l.hasFrom(ctx, *next) {
					return true, nil
				}
				continue // idle: nothing to read yet
			}
			return false, fmt.Errorf("read %s: %w", StreamLog, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return false, fmt.Errorf("read %s: %w", StreamLog, err)
		}
		seq := meta.Sequence.Stream
		if *next > 0 && seq != *next {
			return false, fmt.Errorf("%w: expected record %d, next in log is %d", ErrGap, *next, seq)
		}
		*next = seq + 1
		rec, err := recordOf(seq, msg.Subject(), msg.Headers(), msg.Data())
		if err != nil {
			return false, err
		}
		rec.Pending = meta.NumPending
		if err := fn(rec); err != nil {
			return false, err
		}
	}
}

// hasFrom reports whether the log holds a record at or after seq (0: any).
func (l *Log) hasFrom(ctx context.Context, seq uint64) bool {
	info, err := l.stream.Info(ctx)
	return err == nil && info.State.Msgs > 0 && info.State.LastSeq >= max(seq, 1)
}

// Last calls fn with event records (ticks skipped), newest first, until
// fn returns false, n records were given (n <= 0: no limit) or the start
// of the log. It reads with direct gets (the stream allows them), one
// request per event whatever the number of ticks in between: each asks
// for the last event at or before a sequence ("multi_last" with
// "up_to_seq", NATS server 2.11 or later). On a cluster a replica may
// answer, so the very newest event may be missing for a moment.
func (l *Log) Last(ctx context.Context, n int, fn func(Record) bool) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	inbox := l.nc.NewInbox()
	sub, err := l.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("%w: last events: %w", ErrUnavailable, err)
	}
	defer sub.Unsubscribe()
	var upTo uint64 // 0: the end of the log
	for i := 0; n <= 0 || i < n; i++ {
		rec, ok, err := l.lastEvent(ctx, sub, inbox, upTo)
		if err != nil || !ok {
			return err
		}
		if !fn(rec) || rec.Seq <= 1 {
			return nil
		}
		upTo = rec.Seq - 1
	}
	return nil
}

// lastEvent asks for the last event at or before upTo (0: the end).
func (l *Log) lastEvent(ctx context.Context, sub *nats.Subscription, inbox string, upTo uint64) (Record, bool, error) {
	req := fmt.Appendf(nil, `{"multi_last":[%q],"up_to_seq":%d}`, SubjectEvent, upTo)
	if err := l.nc.PublishRequest("$JS.API.DIRECT.GET."+StreamLog, inbox, req); err != nil {
		return Record{}, false, fmt.Errorf("%w: last events: %w", ErrUnavailable, err)
	}
	var rec Record
	var found bool
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return Record{}, false, fmt.Errorf("%w: last events: %w", ErrUnavailable, err)
		}
		switch status := m.Header.Get("Status"); status {
		case "": // the record
			seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
			if err != nil {
				return Record{}, false, fmt.Errorf("last events: bad direct get reply")
			}
			if rec, err = recordOf(seq, m.Header.Get(jetstream.SubjectHeader), m.Header, m.Data); err != nil {
				return Record{}, false, err
			}
			found = true
		case "204": // end of batch
			return rec, found, nil
		case "404": // no event at or before upTo
			return Record{}, false, nil
		default:
			return Record{}, false, fmt.Errorf("%w: last events: direct get: %s %s", ErrUnavailable, status, m.Header.Get("Description"))
		}
	}
}
