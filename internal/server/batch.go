package server

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/internal/streams"
)

// Group commit. Under load many webhook requests are waiting on the log at
// once, and each append costs the log about the same whatever its size. So
// the requests that arrive while appends are in flight are merged into one
// record: their events, verbatim, in one JSON array — itself a valid
// Version 2 body, so the log's consumers see nothing new. Each request is
// answered 200 only when the record holding its events is stored, and all
// of them get the 503 when it is not. A request that arrives while the log
// is idle is appended alone at once: batching adds no waiting.

// batchMaxBytes caps a merged record (and Options.MaxBody, which Main sets
// within what the log takes as one message). A larger body goes alone.
const batchMaxBytes = 1 << 20

// appenders is the number of appends in flight at once.
const appenders = 4

// errClosed is returned to requests that arrive after Close.
var errClosed = errors.New("server closed")

// pendingAppend is one request's body waiting to be appended.
type pendingAppend struct {
	body     []byte
	received time.Time
	done     chan error
}

// batcher runs the appenders.
type batcher struct {
	log      EventLog
	appends  prometheus.Counter // successful appends
	maxBytes int
	queue    chan *pendingAppend // unbuffered: a send succeeds only into a running appender
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newBatcher(log EventLog, appends prometheus.Counter, maxBytes, appenders int) *batcher {
	b := &batcher{log: log, appends: appends, maxBytes: maxBytes, queue: make(chan *pendingAppend), stop: make(chan struct{})}
	for range appenders {
		b.wg.Go(b.run)
	}
	return b
}

// append stores body, alone or with others, and returns once the log holds
// it. body may be reused when append returns.
func (b *batcher) append(body []byte, received time.Time) error {
	p := &pendingAppend{body: body, received: received, done: make(chan error, 1)}
	select {
	case b.queue <- p:
		return <-p.done
	case <-b.stop:
		return errClosed
	}
}

// close stops the appenders once their batches are done. Requests still
// arriving get errClosed.
func (b *batcher) close() {
	b.stopOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// run is one appender: take a request, gather those already waiting, append
// them as one record and answer them all.
func (b *batcher) run() {
	var (
		batch []*pendingAppend
		carry *pendingAppend // taken but too big for the batch it came into
		buf   []byte
	)
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.stop:
				return
			}
		}
		batch = append(batch[:0], first)
		// size bounds the merged record: each body and a comma, and "[]".
		size := 1 + len(first.body) + 1
	gather:
		for size < b.maxBytes {
			select {
			case p := <-b.queue:
				if size+len(p.body)+1 > b.maxBytes {
					carry = p
					break gather
				}
				batch = append(batch, p)
				size += len(p.body) + 1
			default:
				break gather
			}
		}
		buf = b.appendBatch(buf, batch)
		if cap(buf) > 2*b.maxBytes {
			buf = nil
		}
	}
}

// appendBatch appends batch as one record and answers its requests. buf is
// scratch space for the merged record, returned for reuse.
func (b *batcher) appendBatch(buf []byte, batch []*pendingAppend) []byte {
	first := batch[0]
	if len(batch) == 1 {
		first.done <- b.store(first.body, first.received)
		return buf
	}
	buf = mergeBodies(buf[:0], batch)
	err := b.store(buf, first.received)
	if errors.Is(err, streams.ErrTooLarge) {
		// The log takes less than we thought: each body on its own.
		for _, p := range batch {
			p.done <- b.store(p.body, p.received)
		}
		return buf
	}
	for _, p := range batch {
		p.done <- err
	}
	return buf
}

// store appends one record to the log.
func (b *batcher) store(body []byte, received time.Time) error {
	_, err := b.log.Append(context.Background(), body, received)
	if err == nil {
		b.appends.Inc()
	}
	return err
}

// mergeBodies appends to dst one JSON array holding the events of every
// body of batch. Each body passed webhook.Check and holds at least one
// event: an object, or an array of objects.
func mergeBodies(dst []byte, batch []*pendingAppend) []byte {
	dst = append(dst, '[')
	for i, p := range batch {
		if i > 0 {
			dst = append(dst, ',')
		}
		b := bytes.TrimSpace(p.body)
		if b[0] == '[' {
			b = bytes.TrimSpace(b[1 : len(b)-1])
		}
		dst = append(dst, b...)
	}
	return append(dst, ']')
}
