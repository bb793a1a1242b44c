package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/webhook"
)

func TestMergeBodies(t *testing.T) {
	bodies := []string{
		sentEvent,
		" [" + openEvent + " , " + sentEvent + "]\n",
		"\t" + openEvent + " ",
		"[ " + sentEvent + " ]",
	}
	var batch []*pendingAppend
	for _, b := range bodies {
		_, spans, err := webhook.CheckSpans([]byte(b), nil)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &pendingAppend{body: []byte(b), spans: spans})
	}
	var m merged
	m.merge(batch)
	got := string(m.body)
	want := "[" + sentEvent + "," + openEvent + " , " + sentEvent + "," + openEvent + "," + sentEvent + "]"
	if got != want {
		t.Fatalf("merged\n%s\nwant\n%s", got, want)
	}
	if n, err := webhook.Check(m.body); n != 5 || err != nil {
		t.Errorf("Check(merged) = %d, %v; want 5 events", n, err)
	}
	// The spans carried over are those of the merged record itself.
	if _, spans, _ := webhook.CheckSpans(m.body, nil); !slices.Equal(m.spans, spans) {
		t.Errorf("merged spans %v, want %v", m.spans, spans)
	}
	// One body whose spans are unknown: the record has none.
	batch[2].spans = nil
	if m.merge(batch); m.spans != nil || string(m.body) != want {
		t.Errorf("with a body without spans: %v, %s", m.spans, m.body)
	}
}

// gatedLog is a memLog whose appends wait until gate is closed.
type gatedLog struct {
	memLog
	gate chan struct{}
}

func (l *gatedLog) Append(ctx context.Context, body []byte, received time.Time) (uint64, error) {
	<-l.gate
	return l.memLog.Append(ctx, body, received)
}

// Requests that arrive while the appender is busy are merged into one
// record, and each is answered once that record is stored.
func TestBatcherMergesWaitingRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &gatedLog{gate: make(chan struct{})}
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 1)
		defer b.close()
		var wg sync.WaitGroup
		errs := make([]error, 6)
		post := func(i int, body string) {
			wg.Go(func() { errs[i] = b.append([]byte(body), nil, testTime) })
		}
		post(0, sentEvent)
		synctest.Wait() // the appender holds request 0, waiting on the log
		for i := 1; i < 6; i++ {
			post(i, fmt.Sprintf(`{"event":"open","MessageID":%d}`, i))
		}
		synctest.Wait() // requests 1-5 wait for the appender
		close(log.gate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		got := log.bodies()
		if len(got) != 2 || got[0] != sentEvent {
			t.Fatalf("records %q, want request 0 alone, then one for the others", got)
		}
		// The waiting requests are merged in the order the appender took them.
		for i := 1; i < 6; i++ {
			if !strings.Contains(got[1], fmt.Sprintf(`{"event":"open","MessageID":%d}`, i)) {
				t.Errorf("request %d missing from %s", i, got[1])
			}
		}
		if n, err := webhook.Check([]byte(got[1])); n != 5 || err != nil {
			t.Errorf("Check(record) = %d, %v; want 5 events", n, err)
		}
	})
}

// countingLog is a gatedLog that counts the appends waiting on its gate.
type countingLog struct {
	gatedLog
	mu            sync.Mutex
	inFlight, top int
}

func (l *countingLog) Append(ctx context.Context, body []byte, received time.Time) (uint64, error) {
	l.mu.Lock()
	l.inFlight++
	l.top = max(l.top, l.inFlight)
	l.mu.Unlock()
	defer func() { l.mu.Lock(); l.inFlight--; l.mu.Unlock() }()
	return l.gatedLog.Append(ctx, body, received)
}

// With room for two appends, the first two requests are appended at once,
// each alone; the others wait and go in the records that follow, and no
// more than two appends are ever in flight.
func TestBatcherLeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &countingLog{gatedLog: gatedLog{gate: make(chan struct{})}}
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 2)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { errs[i] = b.append(fmt.Appendf(nil, `{"event":"open","MessageID":%d}`, i), nil, testTime) })
			synctest.Wait()
		}
		log.mu.Lock()
		if log.inFlight != 2 {
			t.Errorf("%d appends in flight with six requests, want 2", log.inFlight)
		}
		log.mu.Unlock()
		close(log.gate)
		wg.Wait()
		b.close()
		for i, err := range errs {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		if log.top != 2 {
			t.Errorf("%d appends in flight at most, want 2", log.top)
		}
		got := log.bodies()
		if n := log.events(t); n != 6 {
			t.Errorf("%d events stored, want 6", n)
		}
		// Requests 0 and 1 alone, then 2 to 5 in one record or two.
		if len(got) < 3 || len(got) > 4 {
			t.Errorf("%d records %q, want 3 or 4", len(got), got)
		}
	})
}

// Requests waiting in line when the batcher closes get errClosed; the
// append in flight completes.
func TestBatcherCloseWithRequestsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &gatedLog{gate: make(chan struct{})}
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 1)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = b.append([]byte(sentEvent), nil, testTime) })
			synctest.Wait()
		}
		closed := make(chan struct{})
		go func() { b.close(); close(closed) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("close returned with an append in flight")
		default:
		}
		close(log.gate)
		wg.Wait()
		<-closed
		if errs[0] != nil {
			t.Errorf("the append in flight: %v", errs[0])
		}
		for _, err := range errs[1:] {
			if !errors.Is(err, errClosed) {
				t.Errorf("a request in line: %v, want errClosed", err)
			}
		}
		if got := log.bodies(); len(got) != 1 {
			t.Errorf("%d records, want 1", len(got))
		}
	})
}

// A failed append fails every request of the batch.
func TestBatcherFailureFailsTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &gatedLog{gate: make(chan struct{})}
		log.appendErr = errors.New("stream full")
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 1)
		defer b.close()
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = b.append([]byte(sentEvent), nil, testTime) })
			synctest.Wait()
		}
		close(log.gate)
		wg.Wait()
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "stream full") {
				t.Errorf("request %d: %v, want the log's error", i, err)
			}
		}
		if got := log.bodies(); len(got) != 0 {
			t.Errorf("log holds %q", got)
		}
	})
}

// Bodies that would make a record larger than the cap go in the next one.
func TestBatcherSizeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &gatedLog{gate: make(chan struct{})}
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), 2*len(sentEvent)+3, 1) // room for two events
		defer b.close()
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := b.append([]byte(sentEvent), nil, testTime); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait()
		}
		close(log.gate)
		wg.Wait()
		got := log.bodies()
		if len(got) != 3 { // 1 alone, then 2 + 2
			t.Fatalf("%d records %q, want 3", len(got), got)
		}
		for _, r := range got {
			if len(r) > 2*len(sentEvent)+3 {
				t.Errorf("record of %d bytes over the cap", len(r))
			}
		}
		if n := log.events(t); n != 5 {
			t.Errorf("%d events stored, want 5", n)
		}
	})
}

// tooLargeLog refuses records larger than limit with streams.ErrTooLarge.
type tooLargeLog struct {
	memLog
	gate  chan struct{}
	limit int
}

func (l *tooLargeLog) Append(ctx context.Context, body []byte, received time.Time) (uint64, error) {
	<-l.gate
	if len(body) > l.limit {
		return 0, fmt.Errorf("%w: %d bytes", streams.ErrTooLarge, len(body))
	}
	return l.memLog.Append(ctx, body, received)
}

// When the log refuses a merged record as too large, each body is
// appended on its own.
func TestBatcherTooLargeFallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &tooLargeLog{gate: make(chan struct{}), limit: len(sentEvent) + 10}
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 1)
		defer b.close()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := b.append([]byte(sentEvent), nil, testTime); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait()
		}
		close(log.gate)
		wg.Wait()
		if got := log.bodies(); len(got) != 4 {
			t.Errorf("%d records, want 4 single ones", len(got))
		}
	})
}

func TestBatcherClosed(t *testing.T) {
	b := newBatcher(&memLog{}, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 2)
	b.close()
	b.close() // twice is fine
	if err := b.append([]byte(sentEvent), nil, testTime); !errors.Is(err, errClosed) {
		t.Errorf("append after close: %v, want errClosed", err)
	}
}

// indexedMemLog is a gatedLog that keeps each record's index, as streams.Log
// does.
type indexedMemLog struct {
	gatedLog
	indexes []string
}

func (l *indexedMemLog) AppendIndexed(ctx context.Context, body []byte, received time.Time, index string) (uint64, error) {
	l.mu.Lock()
	l.indexes = append(l.indexes, index)
	l.mu.Unlock()
	return l.gatedLog.Append(ctx, body, received)
}

// A log that keeps indexes gets each record's, alone or merged: where the
// record's events lie.
func TestBatcherIndexes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &indexedMemLog{gatedLog: gatedLog{gate: make(chan struct{})}}
		b := newBatcher(log, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}), batchMaxBytes, 1)
		defer b.close()
		var wg sync.WaitGroup
		for _, body := range []string{sentEvent, "[" + openEvent + ", " + sentEvent + "]", " " + openEvent} {
			wg.Go(func() {
				_, spans, _ := webhook.CheckSpans([]byte(body), nil)
				if err := b.append([]byte(body), spans, testTime); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait()
		}
		close(log.gate)
		wg.Wait()
		bodies := log.bodies()
		if len(bodies) != 2 || len(log.indexes) != 2 {
			t.Fatalf("%d records, %d indexes; want 2 of each", len(bodies), len(log.indexes))
		}
		for i, body := range bodies {
			_, spans, _ := webhook.CheckSpans([]byte(body), nil)
			if want := webhook.Index(spans); log.indexes[i] != want {
				t.Errorf("record %d %s: index %q, want %q", i, body, log.indexes[i], want)
			}
		}
	})
}
