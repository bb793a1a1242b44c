package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/config"
	"github.com/heraldmail/herald/internal/dispatch"
	"github.com/heraldmail/herald/internal/testutil"
)

// recorder is a fake receiver that keeps every request.
type recorder struct {
	mu     sync.Mutex
	calls  []recorded
	answer func(w http.ResponseWriter, body []byte)
	got    chan struct{}
}

type recorded struct {
	path   string
	header http.Header
	body   string
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, body []byte)) (*recorder, *httptest.Server) {
	r := &recorder{answer: answer, got: make(chan struct{}, 100)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.calls = append(r.calls, recorded{req.URL.Path, req.Header.Clone(), string(body)})
	r.mu.Unlock()
	if r.answer != nil {
		r.answer(w, body)
	}
	r.got <- struct{}{}
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.calls...)
}

// mailjetOK answers a Send API v3.1 call with success for every message.
func mailjetOK(w http.ResponseWriter, body []byte) {
	var req struct {
		Messages []struct{ To []struct{ Email string } }
	}
	json.Unmarshal(body, &req)
	type to struct {
		Email, MessageUUID string
		MessageID          int64
	}
	var res struct{ Messages []map[string]any }
	for _, m := range req.Messages {
		res.Messages = append(res.Messages, map[string]any{"Status": "success", "To": []to{{Email: m.To[0].Email, MessageUUID: "u", MessageID: 1}}})
	}
	json.NewEncoder(w).Encode(res)
}

const e2eRules = `version: 1
rules:
  - name: open-discount
    on: open
    after: {event: sent, within: 24h}
    do:
      - mailjet: {to: "{{ email }}", template_id: 4242, variables: {code: OPEN24}}
  - name: crm-unsubscribe
    on: unsub
    do:
      - http: {connection: crm, path: "/contacts/{{ urlquery(email) }}/unsubscribe", json: {email: "{{ email }}"}}
  - name: blocked-alert
    on: blocked
    do:
      - slack: {text: "blocked: {{ email }} {{ CustomID }}"}
`

// Through herald serve: events in, the fake Mailjet, CRM and Slack get the
// right calls; an unsubscribed recipient gets no follow-up; no secret shows
// in logs, metrics or the API.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	mj, mjSrv := newRecorder(t, mailjetOK)
	crm, crmSrv := newRecorder(t, nil)
	sl, slSrv := newRecorder(t, func(w http.ResponseWriter, _ []byte) { io.WriteString(w, "ok") })
	secrets := map[string]string{
		"mailjet key": "MJKEY-3f9a1c", "mailjet secret": "MJSECRET-77d0e2", "crm token": "CRMTOKEN-5b2e91",
		"signing secret": "SIGNING-0c4d8a", "slack path": "T000/B000/SLACKSECRET-9e1f", "admin token": "ADMIN-a81c3e",
	}
	cfg := testConfig(t)
	cfg.Rules = filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(cfg.Rules, []byte(e2eRules), 0o644)
	cfg.Admin.Token = config.Secret(secrets["admin token"])
	cfg.Connections = map[string]*config.Connection{
		"mailjet": {Type: "mailjet", APIKey: config.Secret(secrets["mailjet key"]), APISecret: config.Secret(secrets["mailjet secret"]),
			From: config.Address{Email: "news@example.com", Name: "Example"}, BaseURL: mjSrv.URL},
		"crm": {Type: "http", BaseURL: crmSrv.URL, Headers: map[string]config.Secret{"Authorization": config.Secret("Bearer " + secrets["crm token"])},
			SigningSecret: config.Secret(secrets["signing secret"])},
		"slack": {Type: "slack", WebhookURL: config.Secret(slSrv.URL + "/services/" + secrets["slack path"])},
	}
	d := start(t, cfg)
	// Each delivery status the dispatcher stores is an update of its
	// bucket: the firings are re-checked on each.
	statuses := &testutil.Signal{}
	kv, err := d.m.conn.JetStream().KeyValue(context.Background(), dispatch.StatusBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.WatchAll(context.Background(), jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	testutil.Relay(t, statuses, w.Updates())
	for _, body := range []string{
		`{"event":"sent","time":1,"MessageID":576460765503091475,"email":"ann@x.com"}`,
		`{"event":"open","time":2,"MessageID":576460765503091475,"email":"ann@x.com"}`,
		`[{"event":"sent","time":3,"MessageID":576460765503091476,"email":"bob@x.com"},
		  {"event":"unsub","time":4,"MessageID":576460765503091476,"email":"bob@x.com","mj_list_id":7}]`,
		`{"event":"open","time":5,"MessageID":576460765503091476,"email":"bob@x.com"}`,
		`{"event":"blocked","time":6,"MessageID":576460765503091477,"email":"eve@x.com","CustomID":"<!channel>"}`,
	} {
		if r := d.post(body); r.code != http.StatusOK {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
	}
	waitUntil(t, "every firing settled", statuses, func() bool {
		jobs := d.firingStatuses()
		return len(jobs) == 4 && !strings.Contains(strings.Join(jobs, " "), "queued") && !strings.Contains(strings.Join(jobs, " "), "retrying")
	})

	// Mailjet: one message, to ann only; bob unsubscribed.
	calls := mj.all()
	if len(calls) != 1 || !strings.Contains(calls[0].body, `"Email":"ann@x.com"`) || strings.Contains(calls[0].body, "bob@") {
		t.Errorf("mailjet calls = %+v, want one to ann@x.com", calls)
	}
	if len(calls) == 1 {
		if !strings.Contains(calls[0].body, `"TemplateID":4242`) || !strings.Contains(calls[0].body, `"CustomID":"open-discount-`) {
			t.Errorf("mailjet body %s", calls[0].body)
		}
		if u, p, _ := (&http.Request{Header: calls[0].header}).BasicAuth(); u != secrets["mailjet key"] || p != secrets["mailjet secret"] {
			t.Errorf("mailjet basic auth %q", u)
		}
	}
	// CRM: bob's unsubscribe, signed, with the connection's header.
	calls = crm.all()
	if len(calls) != 1 || calls[0].path != "/contacts/bob@x.com/unsubscribe" && calls[0].path != "/contacts/bob%40x.com/unsubscribe" {
		t.Errorf("crm calls = %+v", calls)
	} else {
		h := calls[0].header
		if h.Get("Authorization") != "Bearer "+secrets["crm token"] || h.Get("Idempotency-Key") == "" || !strings.HasPrefix(h.Get("X-Herald-Signature"), "v1=") {
			t.Errorf("crm headers %v", h)
		}
		if calls[0].body != `{"email":"bob@x.com"}` {
			t.Errorf("crm body %s", calls[0].body)
		}
	}
	// Slack: the alert, with the event's text escaped.
	calls = sl.all()
	if len(calls) != 1 || !strings.Contains(calls[0].body, `blocked: eve@x.com \u0026lt;!channel\u0026gt;`) && !strings.Contains(calls[0].body, `blocked: eve@x.com &lt;!channel&gt;`) {
		t.Errorf("slack calls = %+v", calls)
	}
	if statuses := strings.Join(d.firingStatuses(), " "); !strings.Contains(statuses, "open-discount:suppressed") {
		t.Errorf("statuses %s: bob's discount should be suppressed", statuses)
	}

	// No secret anywhere herald shows.
	seen := map[string]string{"logs": d.logs.String()}
	for _, path := range []string{"/metrics", "/api/firings", "/api/rules", "/api/events", "/api/dead-letters", "/readyz"} {
		seen[path] = d.get(path).body
	}
	for where, text := range seen {
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s appears in %s", name, where)
			}
		}
	}
}

// firingStatuses returns "rule:status" for every job in /api/firings.
func (d *daemon) firingStatuses() []string {
	d.t.Helper()
	r := d.get("/api/firings")
	var jobs []struct{ Rule, Status string }
	if err := json.Unmarshal([]byte(r.body), &jobs); err != nil {
		d.t.Fatalf("GET /api/firings: %v in %s", err, r.body)
	}
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Rule + ":" + j.Status
	}
	return out
}
