package server

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

const (
	sentEvent = `{"event":"sent","time":1433333949,"MessageID":19421777835146490,"email":"api@mailjet.com"}`
	openEvent = `{"event":"open","time":1433103519,"MessageID":19421777396190490,"email":"api@mailjet.com"}`
)

func TestWebhookAcceptsAndStoresTheRawBody(t *testing.T) {
	tests := []struct {
		name, body string
		events     int
	}{
		{"version 1", sentEvent, 1},
		{"version 2", "[" + sentEvent + "," + openEvent + "]", 2},
		{"version 2 of one", "[" + openEvent + "]", 1},
		{"spaces around", " \n\t" + sentEvent + "\r\n", 1},
		{"send test", `{"event":"sent","time":0,"MessageID":0,"email":"","blocked":"","hard_bounce":"","mj_list_id":""}`, 1},
		{"unknown type", `{"event":"forward","MessageID":1}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, log, _ := newTestServer(t, Options{})
			rec := post(s, tt.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d %q, want 200", rec.Code, rec.Body)
			}
			if got := log.bodies(); len(got) != 1 || got[0] != tt.body {
				t.Errorf("log holds %q, want the body as one record", got)
			}
			if got := value(s.Metrics().WebhookEvents); got != float64(tt.events) {
				t.Errorf("webhook_events_total = %v, want %d", got, tt.events)
			}
			if got := value(s.Metrics().WebhookRequests.WithLabelValues("200")); got != 1 {
				t.Errorf(`webhook_requests_total{code="200"} = %v, want 1`, got)
			}
		})
	}
}

func TestWebhookEmptyArrayIsNotStored(t *testing.T) {
	s, log, _ := newTestServer(t, Options{})
	for _, body := range []string{"[]", " [ ] "} {
		if rec := post(s, body); rec.Code != http.StatusOK {
			t.Fatalf("%q: status %d, want 200", body, rec.Code)
		}
	}
	if got := log.bodies(); len(got) != 0 {
		t.Errorf("log holds %q, want nothing", got)
	}
}

func TestWebhookRejects(t *testing.T) {
	auth := BasicAuth{Username: "mailjet", Password: "s3cret"}
	tests := []struct {
		name   string
		body   string
		header []string
		code   int
		reason string
	}{
		{"not JSON", `{"event":`, nil, 400, "not_json"},
		{"garbage", `hello`, nil, 400, "not_json"},
		{"empty body", ``, nil, 400, "not_json"},
		{"two objects", sentEvent + sentEvent, nil, 400, "not_json"},
		{"a scalar", `42`, nil, 400, "not_object"},
		{"a string", `"sent"`, nil, 400, "not_object"},
		{"null", `null`, nil, 400, "not_object"},
		{"array holding a scalar", `[` + sentEvent + `,1]`, nil, 400, "not_object"},
		{"array of arrays", `[[]]`, nil, 400, "not_object"},
		{"too large", `[` + strings.Repeat(sentEvent+",", 20) + sentEvent + `]`, nil, 413, "too_large"},
		{"no credentials", sentEvent, nil, 401, "unauthorized"},
		{"wrong password", sentEvent, []string{"Authorization", basic("mailjet", "guess")}, 401, "unauthorized"},
		{"wrong user", sentEvent, []string{"Authorization", basic("root", "s3cret")}, 401, "unauthorized"},
		{"bearer instead", sentEvent, []string{"Authorization", "Bearer s3cret"}, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, log, _ := newTestServer(t, Options{BasicAuth: auth, MaxBody: 1024})
			header := tt.header
			if tt.code != 401 {
				header = []string{"Authorization", basic("mailjet", "s3cret")}
			}
			rec := post(s, tt.body, header...)
			if rec.Code != tt.code {
				t.Fatalf("status %d %q, want %d", rec.Code, rec.Body, tt.code)
			}
			errorOf(t, rec)
			if got := log.bodies(); len(got) != 0 {
				t.Errorf("log holds %q, want nothing", got)
			}
			if got := value(s.Metrics().WebhookRejected.WithLabelValues(tt.reason)); got != 1 {
				t.Errorf("webhook_rejected_total{reason=%q} = %v, want 1", tt.reason, got)
			}
			if tt.code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func TestWebhookRightCredentials(t *testing.T) {
	s, log, _ := newTestServer(t, Options{BasicAuth: BasicAuth{Username: "mailjet", Password: "s3cret"}})
	if rec := post(s, sentEvent, "Authorization", basic("mailjet", "s3cret")); rec.Code != 200 {
		t.Fatalf("status %d %q, want 200", rec.Code, rec.Body)
	}
	if len(log.bodies()) != 1 {
		t.Errorf("log holds %d records, want 1", len(log.bodies()))
	}
}

// A chunked body (no Content-Length) over the limit is caught while reading.
func TestWebhookTooLargeChunked(t *testing.T) {
	s, log, _ := newTestServer(t, Options{MaxBody: 100})
	body := io.MultiReader(strings.NewReader("["), strings.NewReader(strings.Repeat(sentEvent+",", 5)+sentEvent+"]"))
	rec := do(s, http.MethodPost, DefaultWebhookPath, body) // httptest sets no length for a MultiReader
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
	if len(log.bodies()) != 0 {
		t.Errorf("log holds %q", log.bodies())
	}
	// A chunked body within the limit is read whole.
	s, log, _ = newTestServer(t, Options{MaxBody: 1000})
	rec = do(s, http.MethodPost, DefaultWebhookPath, io.MultiReader(strings.NewReader(sentEvent)))
	if rec.Code != 200 || len(log.bodies()) != 1 || log.bodies()[0] != sentEvent {
		t.Fatalf("status %d, log %q", rec.Code, log.bodies())
	}
}

func TestWebhookLogUnavailable(t *testing.T) {
	s, log, logs := newTestServer(t, Options{RetryAfter: 30e9})
	log.appendErr = errors.New("stream full")
	rec := post(s, sentEvent)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	errorOf(t, rec)
	if got := value(s.Metrics().LogErrors); got != 1 {
		t.Errorf("log_errors_total = %v, want 1", got)
	}
	if got := value(s.Metrics().WebhookEvents); got != 0 {
		t.Errorf("webhook_events_total = %v, want 0", got)
	}
	if !strings.Contains(logs.String(), "stream full") {
		t.Errorf("the append error is not logged:\n%s", logs)
	}
}

func TestWebhookMethodNotAllowed(t *testing.T) {
	s, log, _ := newTestServer(t, Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		rec := do(s, m, DefaultWebhookPath, strings.NewReader(sentEvent))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, rec.Code)
		}
	}
	if len(log.bodies()) != 0 {
		t.Errorf("log holds %q", log.bodies())
	}
}

func TestWebhookPathConfigurable(t *testing.T) {
	s, log, _ := newTestServer(t, Options{WebhookPath: "/hooks/mj-7f3a"})
	if rec := do(s, http.MethodPost, "/hooks/mj-7f3a", strings.NewReader(sentEvent)); rec.Code != 200 {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	if rec := post(s, sentEvent); rec.Code != http.StatusNotFound {
		t.Errorf("the default path answers %d, want 404", rec.Code)
	}
	if len(log.bodies()) != 1 {
		t.Errorf("log holds %d records, want 1", len(log.bodies()))
	}
}

// blockingBody is a request body whose first Read reports on started and
// then waits for release.
type blockingBody struct {
	started chan<- struct{}
	release <-chan struct{}
	r       io.Reader
	once    sync.Once
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		b.started <- struct{}{}
		<-b.release
	})
	return b.r.Read(p)
}

func TestWebhookOverTheConcurrencyCap(t *testing.T) {
	const limit = 2
	s, log, _ := newTestServer(t, Options{MaxConcurrent: limit})
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]int, limit)
	for i := range limit {
		body := &blockingBody{started: started, release: release, r: strings.NewReader(sentEvent)}
		wg.Go(func() { codes[i] = do(s, http.MethodPost, DefaultWebhookPath, body).Code })
		<-started // request i holds a slot and is reading its body
	}
	rec := post(s, sentEvent)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the cap: status %d, Retry-After %q; want 503 with Retry-After",
			rec.Code, rec.Header().Get("Retry-After"))
	}
	if got := value(s.Metrics().WebhookRejected.WithLabelValues("overloaded")); got != 1 {
		t.Errorf(`webhook_rejected_total{reason="overloaded"} = %v, want 1`, got)
	}
	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d in flight: status %d, want 200", i, c)
		}
	}
	if rec := post(s, sentEvent); rec.Code != 200 {
		t.Errorf("after the others finished: status %d, want 200", rec.Code)
	}
	if got := log.events(t); got != limit+1 {
		t.Errorf("log holds %d events, want %d", got, limit+1)
	}
}

// The pooled body buffers must not leak one request's bytes into another's.
func TestWebhookBufferReuse(t *testing.T) {
	s, log, _ := newTestServer(t, Options{})
	long := "[" + strings.Repeat(sentEvent+",", 50) + sentEvent + "]"
	for _, body := range []string{long, openEvent, long, sentEvent} {
		if rec := post(s, body); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	want := []string{long, openEvent, long, sentEvent}
	got := log.bodies()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %.60q…, want %.60q…", i, got[i], want[i])
		}
	}
}
