package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/config"
	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/server"
	"github.com/heraldmail/herald/internal/suppress"
	"github.com/heraldmail/herald/internal/testutil"
)

var (
	_ server.Firings     = (*Dispatcher)(nil)
	_ server.DeadLetters = (*Dispatcher)(nil)
)

func TestRetryThenSuccessDeliversOnce(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, func(_ string, n int, _ string, _ http.Header) (int, string) {
		if n <= 2 {
			return 503, "busy"
		}
		return 200, "ok"
	})
	m := metrics.New()
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Metrics = m
	d := start(t, opt)
	enqueue(t, c, job("r-1/0", httpAction("/hook")), "")

	st := waitStatus(t, d, "r-1/0", StatusSent)
	if st.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", st.Attempts)
	}
	if all, ok := ep.count("/hook"); all != 3 || ok != 1 {
		t.Errorf("requests = %d (%d ok), want 3 (1 ok)", all, ok)
	}
	if st.LastError != "" || !st.NextAttempt.IsZero() {
		t.Errorf("sent status keeps %q, next %v", st.LastError, st.NextAttempt)
	}
	if got := counter(t, opt.Metrics, "http", "crm", outRetried); got != 2 {
		t.Errorf("retried = %v, want 2", got)
	}
	if got := counter(t, opt.Metrics, "http", "crm", outSent); got != 1 {
		t.Errorf("sent = %v, want 1", got)
	}
	if n := deliveries(t, m, "http"); n != 1 {
		t.Errorf("latency observations = %d, want 1", n)
	}
}

func TestPermanentFailureDeadLetterAndRetry(t *testing.T) {
	c := openConn(t)
	var mu sync.Mutex
	code := 400
	ep := newEndpoint(t, func(string, int, string, http.Header) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		return code, `{"error":"bad contact"}`
	})
	m := metrics.New()
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Metrics = m
	d := start(t, opt)
	enqueue(t, c, job("r-2/0", httpAction("/hook")), "")

	st := waitStatus(t, d, "r-2/0", StatusDead)
	if st.Attempts != 1 || !strings.Contains(st.LastError, "HTTP 400") {
		t.Errorf("status = %+v, want 1 attempt and the HTTP 400", st)
	}
	if strings.Contains(st.LastError, "s3cret") {
		t.Errorf("error shows the connection's secret: %s", st.LastError)
	}
	list := deadLetters(t, d)
	if len(list) != 1 || list[0].ID != "r-2/0" || !strings.Contains(list[0].Error, "bad contact") || list[0].Attempts != 1 {
		t.Fatalf("dead letters = %+v", list)
	}
	if param(t, list[0].Job, "path") != "/hook" {
		t.Errorf("dead letter job = %+v", list[0].Job)
	}
	if got := gauge(t, m, "herald_dead_letters"); got != 1 {
		t.Errorf("herald_dead_letters = %v, want 1", got)
	}
	if got := counter(t, opt.Metrics, "http", "crm", outFailed); got != 1 {
		t.Errorf("failed = %v, want 1", got)
	}

	mu.Lock()
	code = 200
	mu.Unlock()
	if err := d.Retry(context.Background(), "r-2/0"); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, d, "r-2/0", StatusSent)
	if st.Attempts != 1 || st.Requeues != 1 {
		t.Errorf("after retry: %+v, want attempt 1 of requeue 1", st)
	}
	if all, ok := ep.count("/hook"); all != 2 || ok != 1 {
		t.Errorf("requests = %d (%d ok), want 2 (1 ok)", all, ok)
	}
	if list := deadLetters(t, d); len(list) != 0 {
		t.Errorf("dead letters after retry = %+v", list)
	}
	if got := gauge(t, m, "herald_dead_letters"); got != 0 {
		t.Errorf("herald_dead_letters = %v, want 0", got)
	}
	// The firing is listed once, with its status.
	fs := firings(t, d, "r")
	if len(fs) != 1 || fs[0].ID != "r-2/0" || fs[0].Status.Status != StatusSent {
		t.Errorf("firings = %+v", fs)
	}
}

func TestRetryAndDropUnknown(t *testing.T) {
	d := newDispatcher(t, testOptions(openConn(t), nil))
	ctx := context.Background()
	if err := d.Retry(ctx, "nope/0"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Retry unknown = %v, want ErrNotFound", err)
	}
	if err := d.Drop(ctx, "nope/0"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Drop unknown = %v, want ErrNotFound", err)
	}
}

func TestDrop(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(404))
	d := start(t, testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)}))
	enqueue(t, c, job("r-3/0", httpAction("/gone")), "")
	waitStatus(t, d, "r-3/0", StatusDead)
	if err := d.Drop(context.Background(), "r-3/0"); err != nil {
		t.Fatal(err)
	}
	st, _, err := d.getStatus(context.Background(), "r-3/0")
	if err != nil || st.Status != StatusDropped || st.Attempts != 1 {
		t.Errorf("status = %+v, %v; want dropped after 1 attempt", st, err)
	}
	if list := deadLetters(t, d); len(list) != 0 {
		t.Errorf("dead letters = %+v", list)
	}
	if err := d.Drop(context.Background(), "r-3/0"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("second Drop = %v, want ErrNotFound", err)
	}
}

func TestSameJobDeliveredOnce(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(200))
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Concurrency = 1 // in order, so the sentinel comes last
	d := start(t, opt)
	j := job("r-4/0", httpAction("/once"))
	if enqueue(t, c, j, "") {
		t.Fatal("first publish taken for a duplicate")
	}
	if !enqueue(t, c, j, "") {
		t.Error("second publish within the duplicate window was stored")
	}
	// A copy queued after the duplicate window (another message id).
	enqueue(t, c, j, "r-4/0 late")
	enqueue(t, c, job("r-4/1", httpAction("/sentinel")), "")
	waitStatus(t, d, "r-4/1", StatusSent)
	if all, _ := ep.count("/once"); all != 1 {
		t.Errorf("job delivered %d times, want 1", all)
	}
}

func TestMailjetPartialRetryCarriesFailedOnly(t *testing.T) {
	c := openConn(t)
	fm := &fakeMailjet{fail: map[string]int{"b@x.com": 500}, sent: map[string]int{}}
	ep := newEndpoint(t, func(p string, n int, body string, h http.Header) (int, string) {
		code, out := fm.answer(p, n, body, h)
		if n == 1 {
			fm.setFail("b@x.com", 0) // b gets through on the retry
		}
		return code, out
	})
	d := start(t, testOptions(c, map[string]Runner{"mailjet": mailjetRunner(t, ep.URL)}))
	enqueue(t, c, job("r-5/0", mailjetAction("a@x.com", "b@x.com")), "")
	st := waitStatus(t, d, "r-5/0", StatusSent)
	if st.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", st.Attempts)
	}
	if a, b := fm.sentTo("a@x.com"), fm.sentTo("b@x.com"); a != 1 || b != 1 {
		t.Errorf("sent a %d, b %d times; want once each", a, b)
	}
	ep.mu.Lock()
	second := ep.bodies[1]
	ep.mu.Unlock()
	if strings.Contains(second, "a@x.com") || !strings.Contains(second, "b@x.com") {
		t.Errorf("retry body = %s, want b only", second)
	}
}

func TestMailjetPartialDeadLetterCarriesFailedOnly(t *testing.T) {
	c := openConn(t)
	fm := &fakeMailjet{fail: map[string]int{"b@x.com": 400}, sent: map[string]int{}}
	ep := newEndpoint(t, fm.answer)
	d := start(t, testOptions(c, map[string]Runner{"mailjet": mailjetRunner(t, ep.URL)}))
	enqueue(t, c, job("r-6/0", mailjetAction("a@x.com", "b@x.com")), "")
	waitStatus(t, d, "r-6/0", StatusDead)
	list := deadLetters(t, d)
	if len(list) != 1 {
		t.Fatalf("dead letters = %+v", list)
	}
	if to := param(t, list[0].Job, "to"); !reflect.DeepEqual(to, []any{"b@x.com"}) {
		t.Errorf("dead letter to = %#v, want only b", to)
	}
	// Retried from dead letters, only b is sent.
	fm.setFail("b@x.com", 0)
	if err := d.Retry(context.Background(), "r-6/0"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, d, "r-6/0", StatusSent)
	if a, b := fm.sentTo("a@x.com"), fm.sentTo("b@x.com"); a != 1 || b != 1 {
		t.Errorf("sent a %d, b %d times; want once each", a, b)
	}
}

func TestSuppressed(t *testing.T) {
	ctx := context.Background()
	c := openConn(t)
	store, err := suppress.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(ctx, "Gone@X.com", suppress.ReasonUnsub, t0); err != nil {
		t.Fatal(err)
	}
	fm := &fakeMailjet{fail: map[string]int{}, sent: map[string]int{}}
	ep := newEndpoint(t, fm.answer)
	opt := testOptions(c, map[string]Runner{"mailjet": mailjetRunner(t, ep.URL)})
	opt.Suppress = store
	opt.Metrics = metrics.New()
	d := start(t, opt)

	enqueue(t, c, job("r-7/0", mailjetAction("Someone <gone@x.com>")), "")
	waitStatus(t, d, "r-7/0", StatusSuppressed)

	mixed := job("r-7/1", mailjetAction("gone@x.com", "here@x.com"))
	enqueue(t, c, mixed, "")
	waitStatus(t, d, "r-7/1", StatusSent)

	ignore := job("r-7/2", mailjetAction("gone@x.com"))
	ignore.Action.IgnoreSuppression = true
	enqueue(t, c, ignore, "")
	waitStatus(t, d, "r-7/2", StatusSent)

	if got := fm.sentTo("gone@x.com"); got != 1 {
		t.Errorf("suppressed recipient got %d messages, want 1 (ignore_suppression only)", got)
	}
	if got := fm.sentTo("here@x.com"); got != 1 {
		t.Errorf("here@x.com got %d messages, want 1", got)
	}
	if got := counter(t, opt.Metrics, "mailjet", "mailjet", outSuppressed); got != 1 {
		t.Errorf("suppressed = %v, want 1", got)
	}
}

func TestDryRunLogsWithoutSecrets(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(200))
	conns := map[string]*config.Connection{
		"crm": {Type: config.TypeHTTP, BaseURL: ep.URL, Headers: map[string]config.Secret{"Authorization": "Bearer s3cret-token"},
			SigningSecret: "sign-s3cret"},
		"slack": {Type: config.TypeSlack, MissingEnv: []string{"SLACK_WEBHOOK_URL"}},
	}
	runners, warnings, err := Runners(conns, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) == 0 {
		t.Error("no warning for --dry-run")
	}
	var buf testutil.Buffer
	opt := testOptions(c, runners)
	opt.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	d := start(t, opt)
	enqueue(t, c, job("r-8/0", httpAction("/contacts/42/unsubscribe")), "")
	waitStatus(t, d, "r-8/0", StatusDryRun)
	if all, _ := ep.count("/contacts/42/unsubscribe"); all != 0 {
		t.Errorf("dry-run sent %d requests", all)
	}
	out := buf.String()
	if !strings.Contains(out, "msg=dry-run") || !strings.Contains(out, "/contacts/42/unsubscribe") || !strings.Contains(out, "connection=crm") {
		t.Errorf("log lacks the dry-run line with the action:\n%s", out)
	}
	for _, secret := range []string{"s3cret-token", "sign-s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds a secret:\n%s", out)
		}
	}
}

// An action whose default connection does not exist runs dry; one naming
// an unknown connection goes to dead letters.
func TestMissingConnections(t *testing.T) {
	c := openConn(t)
	d := start(t, testOptions(c, nil))
	enqueue(t, c, job("r-9/0", engine.Action{Kind: "slack", Params: params(map[string]any{"text": "hi"})}), "")
	waitStatus(t, d, "r-9/0", StatusDryRun)
	enqueue(t, c, job("r-9/1", httpAction("/x")), "") // connection crm
	st := waitStatus(t, d, "r-9/1", StatusDead)
	if !strings.Contains(st.LastError, `"crm"`) || st.Attempts != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestShadowAndRecordOnly(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(200))
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Concurrency = 1
	d := start(t, opt)
	sh := job("r-10/0", httpAction("/shadow"))
	sh.Shadow = true
	enqueue(t, c, sh, "")
	enqueue(t, c, job("r-11/0", engine.Action{}), "")
	enqueue(t, c, job("r-12/0", httpAction("/sentinel")), "")
	waitStatus(t, d, "r-12/0", StatusSent)
	if all, _ := ep.count("/shadow"); all != 0 {
		t.Errorf("shadow job sent %d requests", all)
	}
	got := map[string]string{}
	for _, f := range firings(t, d, "") {
		got[f.ID] = f.Status.Status
	}
	want := map[string]string{"r-10/0": StatusShadow, "r-11/0": StatusNone, "r-12/0": StatusSent}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("firings = %v, want %v", got, want)
	}
}

func TestFiringsQueued(t *testing.T) {
	c := openConn(t)
	d := newDispatcher(t, testOptions(c, nil))
	enqueue(t, c, job("r-13/0", httpAction("/a")), "")
	j := job("r-13/1", httpAction("/b"))
	j.Rule = "other"
	enqueue(t, c, j, "")
	fs := firings(t, d, "r")
	if len(fs) != 1 || fs[0].ID != "r-13/0" || fs[0].Status.Status != StatusQueued {
		t.Errorf("firings = %+v", fs)
	}
	if fs := firings(t, d, ""); len(fs) != 2 || fs[0].ID != "r-13/1" {
		t.Errorf("all firings = %+v, want 2, newest first", fs)
	}
}

func TestMaxAttemptsDeadLetter(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(503))
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.MaxAttempts = 3
	d := start(t, opt)
	enqueue(t, c, job("r-14/0", httpAction("/down")), "")
	st := waitStatus(t, d, "r-14/0", StatusDead)
	if st.Attempts != 3 || !strings.Contains(st.LastError, "gave up after 3 attempts") || !strings.Contains(st.LastError, "503") {
		t.Errorf("status = %+v", st)
	}
	if all, _ := ep.count("/down"); all != 3 {
		t.Errorf("requests = %d, want 3", all)
	}
	if list := deadLetters(t, d); len(list) != 1 || list[0].Attempts != 3 {
		t.Errorf("dead letters = %+v", list)
	}
}

func TestMaxAgeDeadLetter(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, func(_ string, _ int, _ string, h http.Header) (int, string) {
		h.Set("Retry-After", "7200")
		return 429, ""
	})
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.MaxAge = time.Hour
	d := start(t, opt)
	enqueue(t, c, job("r-15/0", httpAction("/slow")), "")
	st := waitStatus(t, d, "r-15/0", StatusDead)
	if st.Attempts != 1 || !strings.Contains(st.LastError, "more than 1h0m0s after the first") {
		t.Errorf("status = %+v", st)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, func(_ string, _ int, _ string, h http.Header) (int, string) {
		h.Set("Retry-After", "120")
		return 429, "slow down"
	})
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Now = func() time.Time { return t0 }
	d := start(t, opt)
	enqueue(t, c, job("r-16/0", httpAction("/limited")), "")
	st := waitStatus(t, d, "r-16/0", StatusRetrying)
	if got := st.NextAttempt.Sub(st.Updated); got < 120*time.Second {
		t.Errorf("next attempt %v after the failure, want at least the 120s asked", got)
	}
	if !st.Updated.Equal(t0) || st.Attempts != 1 || !strings.Contains(st.LastError, "429") {
		t.Errorf("status = %+v", st)
	}
}

func deadLetters(t *testing.T, d *Dispatcher) []DeadLetter {
	t.Helper()
	v, err := d.DeadLetters(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return v.([]DeadLetter)
}

func firings(t *testing.T, d *Dispatcher, rule string) []Firing {
	t.Helper()
	v, err := d.Firings(context.Background(), rule, 100)
	if err != nil {
		t.Fatal(err)
	}
	return v.([]Firing)
}

func gauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	ms := family(t, m, name)
	if len(ms) == 0 {
		t.Fatalf("metric %s not registered", name)
	}
	return ms[0].GetGauge().GetValue()
}

// family returns the samples of the metric name.
func family(t *testing.T, m *metrics.Metrics, name string) []*dto.Metric {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// counter returns herald_actions_total{kind, connection, outcome}.
func counter(t *testing.T, m *metrics.Metrics, kind, conn, outcome string) float64 {
	t.Helper()
	want := map[string]string{"kind": kind, "connection": conn, "outcome": outcome}
	for _, mt := range family(t, m, "herald_actions_total") {
		got := map[string]string{}
		for _, l := range mt.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if reflect.DeepEqual(got, want) {
			return mt.GetCounter().GetValue()
		}
	}
	return 0
}

// deliveries returns the count of herald_action_delivery_seconds{kind}.
func deliveries(t *testing.T, m *metrics.Metrics, kind string) uint64 {
	t.Helper()
	for _, mt := range family(t, m, "herald_action_delivery_seconds") {
		if mt.GetLabel()[0].GetValue() == kind {
			return mt.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// A receiver that echoes the credentials it got does not put them in the
// status, the dead letter, the API output or the log.
func TestNoSecretsInStatusDeadLettersOrLogs(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, func(_ string, n int, _ string, h http.Header) (int, string) {
		if n == 1 {
			return 503, "retry later, Bearer s3cret-token"
		}
		return 403, "forbidden for Authorization: Bearer s3cret-token"
	})
	var buf testutil.Buffer
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := start(t, opt)
	enqueue(t, c, job("r-30/0", httpAction("/echo")), "")
	st := waitStatus(t, d, "r-30/0", StatusDead)
	dl, err := d.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := d.Firings(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	api, _ := json.Marshal([]any{dl, fs})
	for what, s := range map[string]string{"status": st.LastError, "api": string(api), "log": buf.String()} {
		if strings.Contains(s, "s3cret-token") {
			t.Errorf("%s holds the secret: %s", what, s)
		}
	}
	// The body is quoted, scrubbed.
	if !strings.Contains(st.LastError, "forbidden for Authorization") || !strings.Contains(buf.String(), "action retrying") {
		t.Errorf("status %q / log %q: want the 403 and the retry logged", st.LastError, buf.String())
	}
}
