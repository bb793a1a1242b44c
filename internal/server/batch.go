package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/webhook"
)

// Group commit. Under load many webhook requests are waiting on the log at
// once, and each append costs the log about the same whatever its size. So
// the requests that arrive while appends are in flight are merged into one
// record: their events, verbatim, in one JSON array — itself a valid
// Version 2 body, so the log's consumers see nothing new. Each request is
// answered 200 only when the record holding its events is stored, and all
// of them get the 503 when it is not. A request that arrives while the log
// is idle is appended alone at once: batching adds no waiting.
//
// There are no appender goroutines: the request that finds fewer than
// `appenders` appends in flight appends itself (it leads), and the others
// wait in line. A leader that is done hands the lead to the first request
// in line, which appends itself and those behind it as one record. A
// waiting request is woken once, to lead or with its answer, and a leader
// not at all: no hand-off to another goroutine on the way to the log.

// batchMaxBytes caps a merged record (and Options.MaxBody, which Main sets
// within what the log takes as one message). A larger body goes alone.
const batchMaxBytes = 1 << 20

// appenders is the number of appends in flight at once.
const appenders = 4

// errClosed is returned to requests that arrive after Close.
var errClosed = errors.New("server closed")

// errLead tells a waiting request to lead the next append.
var errLead = errors.New("lead the next append")

// pendingAppend is one request's body waiting to be appended.
type pendingAppend struct {
	body     []byte
	spans    []webhook.Span // where its events lie (webhook.CheckSpans); nil: unknown
	received time.Time
	err      error      // the outcome, set by the leader of its batch
	done     chan error // a waiting request's answer, or errLead
}

// batcher merges concurrent appends (see above).
type batcher struct {
	log      EventLog
	indexed  indexedLog         // log, when it keeps indexes; nil otherwise
	appends  prometheus.Counter // successful appends
	maxBytes int
	max      int // appends in flight at most

	mu      sync.Mutex
	leaders int              // appends in flight
	line    []*pendingAppend // requests waiting to be appended, oldest first; only when leaders == max
	closed  bool
	idle    sync.Cond // signalled when leaders drops to 0 after close
	merges  sync.Pool // *merged: space to merge records in
}

func newBatcher(log EventLog, appends prometheus.Counter, maxBytes, appenders int) *batcher {
	b := &batcher{log: log, appends: appends, maxBytes: maxBytes, max: max(appenders, 1)}
	b.indexed, _ = log.(indexedLog)
	b.idle.L = &b.mu
	return b
}

// append stores body, alone or with others, and returns once the log holds
// it. spans are where its events lie (nil: unknown). body and spans may be
// reused when append returns.
func (b *batcher) append(body []byte, spans []webhook.Span, received time.Time) error {
	p := &pendingAppend{body: body, spans: spans, received: received}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return errClosed
	case b.leaders < b.max:
		b.leaders++ // nobody waits (line is empty): p leads alone
	default:
		p.done = make(chan error, 1)
		b.line = append(b.line, p)
		b.mu.Unlock()
		if err := <-p.done; err != errLead {
			return err
		}
		b.mu.Lock()
	}
	batch := b.take(p)
	b.mu.Unlock()
	b.appendBatch(batch)
	for _, q := range batch[1:] {
		q.done <- q.err
	}
	b.handOff()
	return p.err
}

// take returns the batch p leads: p, and those waiting in line that fit.
// b.mu is held.
func (b *batcher) take(p *pendingAppend) []*pendingAppend {
	batch := []*pendingAppend{p}
	size := 1 + len(p.body) + 1 // each body and a comma, and "[]"
	n := 0
	for _, q := range b.line {
		if size+len(q.body)+1 > b.maxBytes {
			break
		}
		batch = append(batch, q)
		size += len(q.body) + 1
		n++
	}
	b.line = b.line[n:]
	if len(b.line) == 0 {
		b.line = nil // let the array go
	}
	return batch
}

// handOff ends a leader's append: the first request in line leads next,
// or, after close, every request in line gets errClosed.
func (b *batcher) handOff() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.line) > 0 && !b.closed {
		next := b.line[0]
		b.line = b.line[1:]
		next.done <- errLead
		return
	}
	for _, q := range b.line {
		q.done <- errClosed
	}
	b.line = nil
	b.leaders--
	if b.leaders == 0 {
		b.idle.Broadcast()
	}
}

// close waits for the appends in flight. Requests waiting for one and
// those still arriving get errClosed.
func (b *batcher) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for b.leaders > 0 {
		b.idle.Wait()
	}
}

// appendBatch appends batch as one record and sets each request's err.
func (b *batcher) appendBatch(batch []*pendingAppend) {
	first := batch[0]
	if len(batch) == 1 {
		first.err = b.store(first.body, first.spans, first.received)
		return
	}
	m, _ := b.merges.Get().(*merged)
	if m == nil {
		m = new(merged)
	}
	m.merge(batch)
	err := b.store(m.body, m.spans, first.received)
	if cap(m.body) <= 2*b.maxBytes {
		b.merges.Put(m)
	}
	if errors.Is(err, streams.ErrTooLarge) {
		// The log takes less than we thought: each body on its own.
		for _, p := range batch {
			p.err = b.store(p.body, p.spans, p.received)
		}
		return
	}
	for _, p := range batch {
		p.err = err
	}
}

// indexedLog is an EventLog that keeps a body's index beside it
// (*streams.Log): its consumer then decodes the body without splitting it
// again (webhook.DecodeIndexed).
type indexedLog interface {
	AppendIndexed(ctx context.Context, body []byte, received time.Time, index string) (uint64, error)
}

// store appends one record to the log, with its index when the log keeps
// them and the spans are known.
func (b *batcher) store(body []byte, spans []webhook.Span, received time.Time) error {
	var err error
	if b.indexed != nil && spans != nil {
		_, err = b.indexed.AppendIndexed(context.Background(), body, received, webhook.Index(spans))
	} else {
		_, err = b.log.Append(context.Background(), body, received)
	}
	if err == nil {
		b.appends.Inc()
	}
	return err
}

// merged is a batch's record: one JSON array holding the events of every
// body, and where they lie when every body's spans are known. Each body
// passed webhook.Check and holds at least one event: an object, or an array
// of objects.
type merged struct {
	body  []byte
	spans []webhook.Span // nil when some body's are unknown
}

func (m *merged) merge(batch []*pendingAppend) {
	m.body, m.spans = append(m.body[:0], '['), m.spans[:0]
	known := true
	for i, p := range batch {
		if i > 0 {
			m.body = append(m.body, ',')
		}
		start, end := eventText(p.body)
		shift := len(m.body) - start
		m.body = append(m.body, p.body[start:end]...)
		known = known && p.spans != nil
		for _, sp := range p.spans {
			m.spans = append(m.spans, webhook.Span{Start: sp.Start + shift, End: sp.End + shift})
		}
	}
	m.body = append(m.body, ']')
	if !known {
		m.spans = nil
	}
}

// eventText returns where a body's events are: the object, or what lies
// inside the array's brackets, without surrounding whitespace.
func eventText(b []byte) (start, end int) {
	start, end = trim(b, 0, len(b))
	if start < end && b[start] == '[' {
		start, end = trim(b, start+1, end-1)
	}
	return start, end
}

// trim moves start and end past JSON whitespace.
func trim(b []byte, start, end int) (int, int) {
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return start, end
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
