package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/testutil"
	"github.com/heraldmail/herald/internal/webhook"
)

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if c := d.GetCounter(); c != nil {
		return c.GetValue()
	}
	return d.GetGauge().GetValue()
}

// memLog is an in-memory EventLog. Append fails with appendErr when set.
type memLog struct {
	mu          sync.Mutex
	recs        []streams.Record
	appendErr   error
	writableErr error
}

func (l *memLog) Append(_ context.Context, body []byte, received time.Time) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	// Copy: the server reuses its body buffers once Append returns.
	rec := streams.Record{Seq: uint64(len(l.recs) + 1), Received: received, Body: bytes.Clone(body)}
	l.recs = append(l.recs, rec)
	return rec.Seq, nil
}

func (l *memLog) Last(_ context.Context, n int, fn func(streams.Record) bool) error {
	l.mu.Lock()
	recs := append([]streams.Record(nil), l.recs...)
	l.mu.Unlock()
	for i := len(recs) - 1; i >= 0 && n > 0; i, n = i-1, n-1 {
		if !fn(recs[i]) {
			break
		}
	}
	return nil
}

func (l *memLog) Writable(context.Context) error { return l.writableErr }

func (l *memLog) bodies() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		out = append(out, string(r.Body))
	}
	return out
}

// events counts the events of every record.
func (l *memLog) events(t *testing.T) int {
	t.Helper()
	n := 0
	for _, b := range l.bodies() {
		k, err := webhook.Check([]byte(b))
		if err != nil {
			t.Fatalf("the log holds a bad body %q: %v", b, err)
		}
		n += k
	}
	return n
}

var testTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestServer returns a Server over a fresh memLog with opts' other
// fields, a fixed clock and a logger writing to the returned buffer.
func newTestServer(t *testing.T, opts Options) (*Server, *memLog, *testutil.Buffer) {
	t.Helper()
	log := &memLog{}
	if opts.Log == nil {
		opts.Log = log
	}
	logs := &testutil.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Now = func() time.Time { return testTime }
	return New(opts), log, logs
}

// do serves one request and returns the recorded answer.
func do(s *Server, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func post(s *Server, body string, header ...string) *httptest.ResponseRecorder {
	return do(s, http.MethodPost, DefaultWebhookPath, strings.NewReader(body), header...)
}

// errorOf decodes the {"error": …} of an answer, failing when it has none.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("answer %d %q is not a JSON error (%v)", rec.Code, rec.Body, err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return e.Error
}
