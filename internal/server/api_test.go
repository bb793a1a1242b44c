package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// apiEvent is an element of GET /api/events as a client reads it.
type apiEvent struct {
	Seq   uint64         `json:"seq"`
	Index int            `json:"index"`
	Event map[string]any `json:"event"`
}

func getEvents(t *testing.T, s *Server, query string) []apiEvent {
	t.Helper()
	rec := do(s, http.MethodGet, "/api/events"+query, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/events%s: %d %s", query, rec.Code, rec.Body)
	}
	var out struct{ Events []apiEvent }
	dec := json.NewDecoder(rec.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Events
}

func TestEventsNewestFirst(t *testing.T) {
	s, _, _ := newTestServer(t, Options{})
	ev := func(id int) string { return fmt.Sprintf(`{"event":"open","MessageID":%d,"email":"a@x.com"}`, id) }
	bodies := []string{ev(1), "[" + ev(2) + "," + ev(3) + "," + ev(4) + "]", ev(5)}
	for _, b := range bodies {
		if rec := post(s, b); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	type pos struct {
		seq   uint64
		index int
		id    string
	}
	read := func(query string) []pos {
		var out []pos
		for _, e := range getEvents(t, s, query) {
			out = append(out, pos{e.Seq, e.Index, fmt.Sprint(e.Event["MessageID"])})
		}
		return out
	}
	all := []pos{{3, 0, "5"}, {2, 2, "4"}, {2, 1, "3"}, {2, 0, "2"}, {1, 0, "1"}}
	for _, tt := range []struct {
		query string
		want  []pos
	}{
		{"", all},
		{"?limit=1000000", all},
		{"?limit=1", all[:1]},
		{"?limit=3", all[:3]}, // stops inside a body
	} {
		got := read(tt.query)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestEventsBigIDsStayExact(t *testing.T) {
	s, _, _ := newTestServer(t, Options{})
	body := `[{"event":"sent","MessageID":576460765503091475,"email":"a@x.com"},` +
		`{"event":"sent","MessageID":576460765503091476,"email":"b@x.com"}]`
	if rec := post(s, body); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	evs := getEvents(t, s, "")
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	if a, b := fmt.Sprint(evs[0].Event["MessageID"]), fmt.Sprint(evs[1].Event["MessageID"]); a != "576460765503091476" || b != "576460765503091475" {
		t.Errorf("MessageIDs %s, %s; want 576460765503091476, 576460765503091475", a, b)
	}
}

func TestEventsBadLimit(t *testing.T) {
	s, _, _ := newTestServer(t, Options{})
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=ten"} {
		rec := do(s, http.MethodGet, "/api/events"+q, nil)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, rec.Code)
		}
		errorOf(t, rec)
	}
}

func TestAdminToken(t *testing.T) {
	const token = "tok-8f1e2d"
	s, _, logs := newTestServer(t, Options{AdminToken: token})
	tests := []struct {
		name, path, auth string
		code             int
	}{
		{"missing", "/api/events", "", 401},
		{"wrong", "/api/events", "Bearer nope", 401},
		{"prefix of the token", "/api/events", "Bearer tok-8f1e", 401},
		{"basic instead", "/api/events", basic("admin", token), 401},
		{"right", "/api/events", "Bearer " + token, 200},
		{"right, any case scheme", "/api/events", "bearer " + token, 200},
		{"unknown path without token", "/api/nothing", "", 401},
		{"unknown path with token", "/api/nothing", "Bearer " + token, 404},
		{"unset extension", "/api/rules", "Bearer " + token, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(s, http.MethodGet, tt.path, nil, "Authorization", tt.auth)
			if rec.Code != tt.code {
				t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, tt.code)
			}
			if tt.code != 200 {
				errorOf(t, rec)
			}
			if tt.code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the admin token appears in the logs:\n%s", logs)
	}
}

// Without a token configured, /api is open (a deployment behind a proxy).
func TestAdminNoToken(t *testing.T) {
	s, _, _ := newTestServer(t, Options{})
	if rec := do(s, http.MethodGet, "/api/events", nil); rec.Code != 200 {
		t.Fatalf("status %d, want 200", rec.Code)
	}
}

// fakeEngine implements Rules, Firings and DeadLetters.
type fakeEngine struct {
	reloadErr error
	calls     []string
}

func (f *fakeEngine) Rules(context.Context) (any, error) {
	return map[string]any{"rules": []string{"open-discount"}}, nil
}

func (f *fakeEngine) Reload(context.Context) (string, error) {
	if f.reloadErr != nil {
		return "", f.reloadErr
	}
	return "v2", nil
}

func (f *fakeEngine) Firings(_ context.Context, rule string, limit int) (any, error) {
	f.calls = append(f.calls, fmt.Sprintf("firings %q %d", rule, limit))
	return []string{}, nil
}

func (f *fakeEngine) DeadLetters(_ context.Context, limit int) (any, error) {
	f.calls = append(f.calls, fmt.Sprintf("dead-letters %d", limit))
	return []string{}, nil
}

func (f *fakeEngine) Retry(_ context.Context, id string) error {
	f.calls = append(f.calls, "retry "+id)
	if id == "gone" {
		return fmt.Errorf("dead letter %q: %w", id, ErrNotFound)
	}
	return nil
}

func (f *fakeEngine) Drop(_ context.Context, id string) error {
	f.calls = append(f.calls, "drop "+id)
	return nil
}

func TestAPIExtensions(t *testing.T) {
	const token = "t0k"
	eng := &fakeEngine{}
	s, _, _ := newTestServer(t, Options{
		AdminToken: token, Rules: eng, Firings: eng, DeadLetters: eng,
		Routes: func(api *mux.Router) {
			api.HandleFunc("/extra", func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 200, "extra")
			}).Methods(http.MethodGet)
		},
	})
	auth := []string{"Authorization", "Bearer " + token}
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/rules", 200, `{"rules":["open-discount"]}`},
		{"POST", "/api/reload", 200, `{"version":"v2"}`},
		{"GET", "/api/reload", 405, `{"error":"method not allowed"}`},
		{"GET", "/api/firings?rule=open-discount&limit=5", 200, `[]`},
		{"GET", "/api/firings", 200, `[]`},
		{"GET", "/api/firings?limit=x", 400, ""},
		{"GET", "/api/dead-letters", 200, `[]`},
		{"POST", "/api/dead-letters/f-1/retry", 200, `{"id":"f-1","ok":true}`},
		{"POST", "/api/dead-letters/gone/retry", 404, `{"error":"dead letter \"gone\": not found"}`},
		{"DELETE", "/api/dead-letters/f-2", 200, `{"id":"f-2","ok":true}`},
		{"GET", "/api/extra", 200, `"extra"`},
		{"PUT", "/api/events", 405, `{"error":"method not allowed"}`},
		{"PUT", "/api/rules", 405, `{"error":"method not allowed"}`},
		{"GET", "/api/nothing", 404, `{"error":"not found"}`},
	}
	for _, tt := range tests {
		rec := do(s, tt.method, tt.path, nil, auth...)
		if rec.Code != tt.code {
			t.Errorf("%s %s: status %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.code)
			continue
		}
		if got := strings.TrimSpace(rec.Body.String()); tt.body != "" && got != tt.body {
			t.Errorf("%s %s: body %s, want %s", tt.method, tt.path, got, tt.body)
		}
	}
	want := []string{`firings "open-discount" 5`, `firings "" 100`, "dead-letters 100", "retry f-1", "retry gone", "drop f-2"}
	if fmt.Sprint(eng.calls) != fmt.Sprint(want) {
		t.Errorf("calls %q, want %q", eng.calls, want)
	}
	// The extensions are behind the token too.
	for _, p := range []string{"/api/rules", "/api/extra", "/api/dead-letters"} {
		if rec := do(s, http.MethodGet, p, nil); rec.Code != 401 {
			t.Errorf("%s without the token: %d, want 401", p, rec.Code)
		}
	}
}

func TestReloadErrors(t *testing.T) {
	eng := &fakeEngine{reloadErr: errors.Join(
		errors.New("rules.yaml:3:7: rule open-discount: on: unknown event type"),
		errors.New("rules.yaml:9:5: rule x: name: must match [a-z0-9-]+"))}
	s, _, _ := newTestServer(t, Options{Rules: eng})
	rec := do(s, http.MethodPost, "/api/reload", nil)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Errors) != 2 || !strings.HasPrefix(body.Errors[1], "rules.yaml:9:5") {
		t.Errorf("errors %q, want the two load errors", body.Errors)
	}
}

func TestHealthAndReady(t *testing.T) {
	notLoaded := errors.New("rules not loaded")
	var readyErr error
	s, log, _ := newTestServer(t, Options{Ready: func(context.Context) error { return readyErr }})
	check := func(path string, want int) {
		t.Helper()
		if rec := do(s, http.MethodGet, path, nil); rec.Code != want {
			t.Errorf("%s: %d %s, want %d", path, rec.Code, rec.Body, want)
		}
	}
	check("/healthz", 200)
	check("/readyz", 200)
	readyErr = notLoaded
	check("/readyz", 503)
	readyErr = nil
	log.writableErr = errors.New("stream full")
	check("/readyz", 503)
	check("/healthz", 200)
}

func TestMetricsEndpoint(t *testing.T) {
	s, _, _ := newTestServer(t, Options{})
	post(s, sentEvent)
	post(s, "nope")
	rec := do(s, http.MethodGet, "/metrics", nil)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	for _, want := range []string{
		`herald_webhook_requests_total{code="200"} 1`,
		`herald_webhook_requests_total{code="400"} 1`,
		`herald_webhook_events_total 1`,
		`herald_webhook_rejected_total{reason="not_json"} 1`,
		`herald_webhook_rejected_total{reason="log_unavailable"} 0`,
		`herald_ingest_duration_seconds_count 2`,
		`herald_log_errors_total 0`,
		`herald_log_appends_total 1`,
		`herald_events_duplicate_total 0`,
		`go_goroutines`,
		`process_start_time_seconds`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
