package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/webhook"
)

// webhook is the ingest path: authenticate, take a concurrency slot, read
// the body, check its shape (webhook.Check, no per-event decoding), append
// it to the log as one record, and answer 200 only once the log holds it.
// Every other answer appends nothing. Decoding happens downstream, in the
// engine's consumer.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	s.metrics.WebhookInFlight.Inc()
	code := s.ingest(w, r, start)
	s.metrics.WebhookInFlight.Dec()
	s.codes.inc(code)
	s.metrics.IngestDuration.Observe(s.now().Sub(start).Seconds())
}

// ingest handles one webhook request and returns the status it answered.
// received is when the request arrived, the events' received time.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, received time.Time) int {
	if s.auth != nil && !s.auth.allows(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="herald", charset="UTF-8"`)
		return s.reject(w, http.StatusUnauthorized, metrics.ReasonUnauthorized, "missing or wrong credentials")
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		w.Header().Set("Retry-After", s.retryAfter)
		return s.reject(w, http.StatusServiceUnavailable, metrics.ReasonOverloaded, "too many webhook requests at once")
	}

	sc := getScratch()
	defer putScratch(sc)
	body, err := s.readBody(w, r, &sc.body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return s.reject(w, http.StatusRequestEntityTooLarge, metrics.ReasonTooLarge,
				"body larger than "+strconv.FormatInt(s.opts.MaxBody, 10)+" bytes")
		}
		return s.reject(w, http.StatusBadRequest, "read_error", "reading the body: "+err.Error())
	}
	sc.body = body // keep the grown buffer for the next request

	n, spans, err := webhook.CheckSpans(body, sc.spans[:0])
	sc.spans = spans
	if err != nil {
		return s.reject(w, http.StatusBadRequest, webhook.Reason(err), err.Error())
	}
	if n == 0 { // an empty array: nothing to store
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	}
	if err := s.batcher.append(body, spans, received); err != nil {
		if errors.Is(err, streams.ErrTooLarge) { // retrying cannot help
			return s.reject(w, http.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, "body too large for the event log")
		}
		s.metrics.LogErrors.Inc()
		s.logger.Warn("webhook: event log refused a body", "events", n, "bytes", len(body), "err", err)
		w.Header().Set("Retry-After", s.retryAfter)
		return s.reject(w, http.StatusServiceUnavailable, metrics.ReasonLogUnavailable, "the event log cannot take events now")
	}
	s.metrics.WebhookEvents.Add(float64(n))
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// reject answers code with a JSON error and counts the reason.
func (s *Server) reject(w http.ResponseWriter, code int, reason, msg string) int {
	s.metrics.WebhookRejected.WithLabelValues(reason).Inc()
	writeError(w, code, msg)
	return code
}

// readBody reads r's body, at most Options.MaxBody bytes, into buf's
// storage. A body over the limit yields an *http.MaxBytesError.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, buf *[]byte) ([]byte, error) {
	max := s.opts.MaxBody
	if r.ContentLength > max {
		return nil, &http.MaxBytesError{Limit: max}
	}
	body := http.MaxBytesReader(w, r.Body, max)
	b := (*buf)[:0]
	if n := r.ContentLength; n > 0 {
		// The usual case: one read of a known size into a reused buffer.
		if int64(cap(b)) < n {
			b = make([]byte, 0, n)
		}
		b = b[:n]
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	for { // chunked: grow as io.ReadAll does
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// A request's scratch space is pooled: the hot path then allocates nothing
// per body. Bodies that grew past maxPooled are dropped rather than kept
// alive.
const (
	initialBuffer = 64 << 10
	maxPooled     = 1 << 20
)

// scratch is a request's body and where its events lie.
type scratch struct {
	body  []byte
	spans []webhook.Span
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{body: make([]byte, 0, initialBuffer)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.body) > maxPooled {
		return
	}
	sc.body, sc.spans = sc.body[:0], sc.spans[:0]
	scratchPool.Put(sc)
}

// codeCounters holds the webhook_requests_total counters of the usual
// codes, resolved once instead of on every request.
type codeCounters struct {
	vec   *prometheus.CounterVec
	known map[int]prometheus.Counter
}

func newCodeCounters(m *metrics.Metrics) codeCounters {
	c := codeCounters{vec: m.WebhookRequests, known: map[int]prometheus.Counter{}}
	for _, code := range []int{200, 400, 401, 413, 503} {
		c.known[code] = c.vec.WithLabelValues(strconv.Itoa(code))
	}
	return c
}

func (c codeCounters) inc(code int) {
	if k, ok := c.known[code]; ok {
		k.Inc()
		return
	}
	c.vec.WithLabelValues(strconv.Itoa(code)).Inc()
}
