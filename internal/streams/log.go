package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the event log.
const (
	StreamLog    = "HERALD_LOG"
	SubjectEvent = "herald.log.event" // one webhook body per message
	SubjectTick  = "herald.log.tick"  // one clock tick per message, empty body
	// HeaderReceived carries the time herald received the body (or the
	// tick's time) as Unix nanoseconds in decimal.
	HeaderReceived = "Herald-Received"
	// HeaderIndex carries where the body's events lie (webhook.Index), so
	// the consumer need not split the body again. Optional.
	HeaderIndex = "Herald-Index"
)

// ErrGap is returned by Read when the log is missing records it should
// deliver: they expired (log.max_age) or were deleted before being read.
var ErrGap = errors.New("event log gap")

// headerRoom is kept free of a message's payload for its headers.
const headerRoom = 1 << 10

// maxRecord is the largest message JetStream's file store keeps (its
// record limit is 32 MiB, headers and subject included).
const maxRecord = 32<<20 - 64<<10

// Record is one message of the event log.
type Record struct {
	Seq      uint64    // position in the log, from 1
	Received time.Time // when herald received the body, or the tick's time
	Tick     bool      // a clock tick rather than an event
	Body     []byte    // the webhook body as received; nil for ticks
	// Pending is how many records followed it in the log when Read
	// delivered it (0 from Last).
	Pending uint64
	// Index is where the body's events lie, as AppendIndexed stored it;
	// "" when it was appended without.
	Index string
}

// Log is the event log: the stream HERALD_LOG.
type Log struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	timeout time.Duration
	logger  *slog.Logger
	// refused is the size of the last message refused because the log
	// was full; Writable reports the log full until that much is free.
	refused atomic.Int64
}

// openLog creates or updates HERALD_LOG: file storage, limits by age and
// size, DiscardNew so that a full log refuses appends rather than silently
// dropping events not processed yet, and direct gets for Last.
func (c *Conn) openLog(ctx context.Context) (*Log, error) {
	maxAge := max(c.opts.LogMaxAge, 0)
	cfg := jetstream.StreamConfig{
		Name:        StreamLog,
		Description: "herald event log: Mailjet webhook bodies and clock ticks",
		Subjects:    []string{SubjectEvent, SubjectTick},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxAge:      maxAge,
		MaxBytes:    c.opts.LogMaxBytes,
		MaxMsgs:     -1,
		Replicas:    c.replicas,
		AllowDirect: true,
		Duplicates:  dupWindow(DefaultActionsDuplicates, maxAge),
	}
	s, err := c.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamLog, err)
	}
	return &Log{nc: c.nc, js: c.js, stream: s, timeout: c.opts.Timeout, logger: c.opts.Logger}, nil
}

// dupWindow returns d, capped at maxAge when that is set: JetStream
// refuses a duplicate window longer than the stream's max age.
func dupWindow(d, maxAge time.Duration) time.Duration {
	if maxAge > 0 && d > maxAge {
		return maxAge
	}
	return d
}

// Stream returns the underlying stream, for consumers and info.
func (l *Log) Stream() jetstream.Stream { return l.stream }

// MaxBody returns the largest body Append accepts: the connected server's
// max_payload, at most the file store's 32 MiB record limit, less room for
// headers.
func (l *Log) MaxBody() int64 { return min(l.nc.MaxPayload(), maxRecord) - headerRoom }

// Append stores one webhook body with the time herald received it and
// returns its sequence. It returns only once the server has acknowledged
// the message, i.e. stored it (see the package doc for what that means
// for durability). It waits at most the Options.Timeout. Failures wrap
// ErrUnavailable (answer 503), or ErrTooLarge.
func (l *Log) Append(ctx context.Context, body []byte, received time.Time) (uint64, error) {
	return l.publish(ctx, SubjectEvent, body, received, "")
}

// AppendIndexed is Append with the body's index (webhook.Index) stored
// beside it for Read to return. The index is left out when it would not
// fit in the message with the body: it only saves the consumer work.
func (l *Log) AppendIndexed(ctx context.Context, body []byte, received time.Time, index string) (uint64, error) {
	if int64(len(body)+len(index)) > l.MaxBody() {
		index = ""
	}
	return l.publish(ctx, SubjectEvent, body, received, index)
}

// AppendTick stores a clock tick for time at, like Append.
func (l *Log) AppendTick(ctx context.Context, at time.Time) (uint64, error) {
	return l.publish(ctx, SubjectTick, nil, at, "")
}

func (l *Log) publish(ctx context.Context, subject string, body []byte, at time.Time, index string) (uint64, error) {
	if n, limit := int64(len(body)), l.MaxBody(); n > limit {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	msg := &nats.Msg{
		Subject: subject,
		Header:  nats.Header{HeaderReceived: []string{strconv.FormatInt(at.UnixNano(), 10)}},
		Data:    body,
	}
	if index != "" {
		msg.Header[HeaderIndex] = []string{index}
	}
	ack, err := l.js.PublishMsg(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, err)
	case isFull(err):
		l.refused.Store(int64(len(body) + headerRoom))
		return 0, fmt.Errorf("%w: append to %s: log full: %w", ErrUnavailable, StreamLog, err)
	case err != nil:
		return 0, fmt.Errorf("%w: append to %s: %w", ErrUnavailable, StreamLog, err)
	}
	return ack.Sequence, nil
}

// isFull reports whether err is JetStream refusing a message because the
// stream reached max_bytes (or the server its storage limit).
func isFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeStoreFailed:
		return strings.Contains(apiErr.Description, "maximum bytes")
	case errCodeInsufficientResources, errCodeStorageExceeded:
		return true
	}
	return false
}

// Writable reports whether the log can take appends, for /readyz: the
// stream answers and is not full. Full means less free than 1/64 of
// max_bytes (at most 1 MiB), or than the last body refused for lack of
// room (until expiry frees that much).
func (l *Log) Writable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrUnavailable, StreamLog, err)
	}
	if limit := info.Config.MaxBytes; limit > 0 {
		room := max(min(limit/64, 1<<20), l.refused.Load())
		if free := limit - int64(info.State.Bytes); free < room {
			return fmt.Errorf("%w: stream %s is full (%d of %d bytes)", ErrUnavailable, StreamLog, info.State.Bytes, limit)
		}
	}
	return nil
}

// Bounds returns the sequences of the first and last records in the log
// (first > last when it is empty).
func (l *Log) Bounds(ctx context.Context) (first, last uint64, err error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: %w", StreamLog, err)
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}

// recordOf decodes a message's headers and body into a Record.
func recordOf(seq uint64, subject string, hdr nats.Header, body []byte) (Record, error) {
	ns, err := strconv.ParseInt(hdr.Get(HeaderReceived), 10, 64)
	if err != nil {
		return Record{}, fmt.Errorf("log record %d: bad %s header", seq, HeaderReceived)
	}
	r := Record{Seq: seq, Received: time.Unix(0, ns).UTC(), Tick: subject == SubjectTick}
	if !r.Tick {
		r.Body = body
		if v := hdr[HeaderIndex]; len(v) > 0 {
			r.Index = v[0]
		}
	}
	return r, nil
}
