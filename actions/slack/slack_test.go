package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/heraldmail/herald/actions"
	"github.com/heraldmail/herald/internal/testutil"
)

const (
	token       = "xoxb-1111-2222-tokensecret"
	hookPath    = "/services/T000/B000/XXXXhooksecret"
	hookSecret  = "XXXXhooksecret"
	postMessage = "/chat.postMessage"
)

// noSecrets fails the test when err's message carries a credential: the
// token, the webhook URL or any of its secret path.
func noSecrets(t *testing.T, err error, hookURL string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{token, hookPath, hookSecret, hookURL} {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

type seen struct {
	path, contentType string
	body              []byte
	form              url.Values
}

// fakeSlack is a slacktest server whose chat.postMessage and incoming
// webhook record each request and answer with respond (Slack's success
// answer when nil).
type fakeSlack struct {
	*slacktest.Server
	mu      sync.Mutex
	seen    []seen
	respond func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, respond func(http.ResponseWriter, *http.Request)) *fakeSlack {
	f := &fakeSlack{respond: respond}
	record := func(ok string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			f.mu.Lock()
			f.seen = append(f.seen, seen{r.URL.Path, r.Header.Get("Content-Type"), body, form})
			f.mu.Unlock()
			if f.respond != nil {
				f.respond(w, r)
				return
			}
			_, _ = io.WriteString(w, ok)
		}
	}
	f.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle(postMessage, record(`{"ok":true,"channel":"C1","ts":"1700000000.000100"}`))
		c.Handle(hookPath, record("ok"))
	})
	f.Start()
	t.Cleanup(f.Stop)
	return f
}

func (f *fakeSlack) hookURL() string { return strings.TrimSuffix(f.GetAPIURL(), "/") + hookPath }

func (f *fakeSlack) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

var blocksParam = []any{
	map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*62%* of mail to x.com blocked"}},
	map[string]any{"type": "divider"},
}

const blocksJSON = `[{"type":"section","text":{"type":"mrkdwn","text":"*62%* of mail to x.com blocked"}},{"type":"divider"}]`

func TestWebhookRequest(t *testing.T) {
	f := newFake(t, nil)
	s, err := New(Config{WebhookURL: f.hookURL()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Do(context.Background(), "fid", map[string]any{
		"text":       "62% of mail to x.com blocked &lt;!channel&gt;",
		"blocks":     map[string]any{"blocks": blocksParam},
		"username":   "herald",
		"icon_emoji": ":rotating_light:",
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].path != hookPath || reqs[0].contentType != "application/json" {
		t.Fatalf("requests = %+v", reqs)
	}
	// replace_original and delete_original are slack-go's, always sent.
	want := `{"text":"62% of mail to x.com blocked &lt;!channel&gt;","blocks":` + blocksJSON + `,
		"username":"herald","icon_emoji":":rotating_light:","replace_original":false,"delete_original":false}`
	var got, w any
	_ = json.Unmarshal(reqs[0].body, &got)
	_ = json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("body\n got %s\nwant %s", reqs[0].body, want)
	}
}

func TestTokenRequest(t *testing.T) {
	f := newFake(t, nil)
	s, err := New(Config{Token: token, Channel: "#alerts", APIURL: f.GetAPIURL()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params map[string]any
		want   url.Values
	}{
		{"default channel, text as rendered (no second escape)",
			map[string]any{"text": "a &amp; b &lt;@U1&gt;"},
			url.Values{"token": {token}, "channel": {"#alerts"}, "text": {"a &amp; b &lt;@U1&gt;"}}},
		{"channel override, blocks, username, icon",
			map[string]any{"text": "fallback", "blocks": blocksParam, "channel": "C0123", "username": "herald", "icon_emoji": ":mailbox:"},
			url.Values{"token": {token}, "channel": {"C0123"}, "text": {"fallback"}, "blocks": {blocksJSON},
				"username": {"herald"}, "icon_emoji": {":mailbox:"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Do(context.Background(), "fid", tt.params); err != nil {
				t.Fatal(err)
			}
			got := f.requests()[i]
			if got.path != postMessage || got.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("request %s %s", got.path, got.contentType)
			}
			if !reflect.DeepEqual(got.form, tt.want) {
				t.Errorf("form\n got %v\nwant %v", got.form, tt.want)
			}
		})
	}
}

func TestTokenAgainstStockSlacktest(t *testing.T) {
	srv := slacktest.NewTestServer()
	srv.Start()
	t.Cleanup(srv.Stop)
	s, err := New(Config{Token: token, Channel: "C1", APIURL: srv.GetAPIURL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Do(context.Background(), "fid", map[string]any{"text": "hello"}); err != nil {
		t.Fatalf("Do against slacktest's own chat.postMessage: %v", err)
	}
}

func TestOutcomes(t *testing.T) {
	date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	answer := func(code int, body string, header ...string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
		}
	}
	tests := []struct {
		name      string
		token     bool
		respond   func(http.ResponseWriter, *http.Request)
		wantErr   bool
		wantRetry bool
		wantAfter time.Duration
		wantMsg   string
	}{
		{name: "webhook 200", respond: answer(200, "ok")},
		{name: "webhook 400 invalid_payload", respond: answer(400, "invalid_payload"), wantErr: true, wantMsg: "HTTP 400 Bad Request: invalid_payload"},
		{name: "webhook 403 action_prohibited", respond: answer(403, "action_prohibited"), wantErr: true, wantMsg: "action_prohibited"},
		{name: "webhook 404 no_service", respond: answer(404, "no_service"), wantErr: true, wantMsg: "HTTP 404 Not Found: no_service"},
		{name: "webhook 404 echoing the URL", respond: answer(404, "no_service: "+hookPath), wantErr: true, wantMsg: "no_service: [redacted]"},
		{name: "webhook 410 channel_is_archived", respond: answer(410, "channel_is_archived"), wantErr: true, wantMsg: "channel_is_archived"},
		{name: "webhook 429 without Retry-After", respond: answer(429, "rate limited"), wantErr: true, wantRetry: true, wantMsg: "HTTP 429"},
		{name: "webhook 429 Retry-After seconds", respond: answer(429, "", "Retry-After", "7"), wantErr: true, wantRetry: true, wantAfter: 7 * time.Second},
		{name: "webhook 429 Retry-After date", respond: answer(429, "", "Date", date.Format(http.TimeFormat), "Retry-After", date.Add(45*time.Second).Format(http.TimeFormat)),
			wantErr: true, wantRetry: true, wantAfter: 45 * time.Second},
		{name: "webhook 500", respond: answer(500, "rollup_error"), wantErr: true, wantRetry: true, wantMsg: "HTTP 500 Internal Server Error: rollup_error"},
		{name: "webhook 503", respond: answer(503, "<html>down</html>"), wantErr: true, wantRetry: true},
		{name: "token ok", token: true},
		{name: "token channel_not_found", token: true, respond: answer(200, `{"ok":false,"error":"channel_not_found"}`), wantErr: true, wantMsg: "chat.postMessage: channel_not_found"},
		{name: "token not_in_channel", token: true, respond: answer(200, `{"ok":false,"error":"not_in_channel"}`), wantErr: true, wantMsg: "not_in_channel"},
		{name: "token invalid_auth", token: true, respond: answer(200, `{"ok":false,"error":"invalid_auth"}`), wantErr: true, wantMsg: "invalid_auth"},
		{name: "token internal_error", token: true, respond: answer(200, `{"ok":false,"error":"internal_error"}`), wantErr: true, wantRetry: true},
		{name: "token 429 ratelimited", token: true, respond: answer(429, `{"ok":false,"error":"ratelimited"}`, "Retry-After", "30"),
			wantErr: true, wantRetry: true, wantAfter: 30 * time.Second},
		{name: "token 503", token: true, respond: answer(503, "<html>down</html>"), wantErr: true, wantRetry: true, wantMsg: "HTTP 503"},
		{name: "token 200 that is not JSON", token: true, respond: answer(200, "<html>proxy login</html>"), wantErr: true, wantMsg: "not Slack's JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.respond)
			cfg := Config{WebhookURL: f.hookURL()}
			if tt.token {
				cfg = Config{Token: token, Channel: "C1", APIURL: f.GetAPIURL()}
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Do(context.Background(), "fid", map[string]any{"text": "hi"})
			noSecrets(t, err, f.hookURL())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do = %v, want error %v", err, tt.wantErr)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if err == nil {
				return
			}
			if retry, after := actions.Retryable(err); retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable = %v, %v; want %v, %v (%v)", retry, after, tt.wantRetry, tt.wantAfter, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestTimeoutRefusedCancelled(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // before the server stops

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		cfg       Config
		ctx       context.Context
		wantRetry bool
		wantIs    error
	}{
		{"webhook hangs", Config{WebhookURL: f.hookURL()}, context.Background(), true, context.DeadlineExceeded},
		{"token hangs", Config{Token: token, Channel: "C1", APIURL: f.GetAPIURL()}, context.Background(), true, context.DeadlineExceeded},
		{"webhook refused", Config{WebhookURL: refused + hookPath}, context.Background(), true, nil},
		{"token refused", Config{Token: token, Channel: "C1", APIURL: refused + "/api/"}, context.Background(), true, nil},
		{"webhook cancelled", Config{WebhookURL: f.hookURL()}, cancelled, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 50 * time.Millisecond
			s, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Do(tt.ctx, "fid", map[string]any{"text": "hi"})
			noSecrets(t, err, tt.cfg.WebhookURL)
			if err == nil {
				t.Fatal("Do = nil, want an error")
			}
			if retry, _ := actions.Retryable(err); retry != tt.wantRetry {
				t.Errorf("Retryable = %v, want %v (%v)", retry, tt.wantRetry, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("%v is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestRejectedParams(t *testing.T) {
	f := newFake(t, nil)
	hook, err := New(Config{WebhookURL: f.hookURL()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := New(Config{Token: token, APIURL: f.GetAPIURL()}) // no default channel
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		s       *Slack
		params  map[string]any
		wantMsg string
	}{
		{"channel on a webhook", hook, map[string]any{"text": "x", "channel": "#other"}, "incoming webhook posts to its own channel"},
		{"no channel anywhere", tok, map[string]any{"text": "x"}, "names none"},
		{"nothing to say", hook, map[string]any{"username": "h"}, "want text, blocks or both"},
		{"empty text", hook, map[string]any{"text": "  "}, "text is empty"},
		{"empty blocks, no text", hook, map[string]any{"blocks": []any{}}, "text is empty"},
		{"text not a string", hook, map[string]any{"text": 3.0}, "text: want a string"},
		{"blocks a string", hook, map[string]any{"blocks": "[]"}, "want a list of blocks"},
		{"blocks object with extra keys", hook, map[string]any{"blocks": map[string]any{"blocks": []any{}, "x": 1.0}}, "only \"blocks\""},
		{"block not an object", hook, map[string]any{"blocks": []any{"section"}}, "blocks:"},
		{"unknown key", hook, map[string]any{"text": "x", "webhook_url": "https://evil.example"}, `unknown key "webhook_url"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Do(context.Background(), "fid", tt.params)
			noSecrets(t, err, f.hookURL())
			testutil.BadAction(t, err, tt.wantMsg)
		})
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests reached Slack, want 0", n)
	}
}

// TestClassifySlackErrors covers slack-go's errors on their own, for when
// no HTTP answer was captured.
func TestClassifySlackErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantRetry bool
		wantAfter time.Duration
	}{
		{"rate limited", &slack.RateLimitedError{RetryAfter: 12 * time.Second}, true, 12 * time.Second},
		{"status 500", slack.StatusCodeError{Code: 500, Status: "500 Internal Server Error"}, true, 0},
		{"status 429", slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"}, true, 0},
		{"status 404", slack.StatusCodeError{Code: 404, Status: "404 Not Found"}, false, 0},
		{"invalid_auth", slack.SlackErrorResponse{Err: "invalid_auth"}, false, 0},
		{"channel_not_found", slack.SlackErrorResponse{Err: "channel_not_found"}, false, 0},
		{"ratelimited", slack.SlackErrorResponse{Err: "ratelimited"}, true, 0},
		{"service_unavailable", slack.SlackErrorResponse{Err: "service_unavailable"}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err, &captured{})
			if retry, after := actions.Retryable(err); retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable = %v, %v; want %v, %v (%v)", retry, after, tt.wantRetry, tt.wantAfter, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for name, cfg := range map[string]Config{
		"neither":      {},
		"both":         {WebhookURL: "https://hooks.slack.com" + hookPath, Token: token},
		"bad webhook":  {WebhookURL: "hooks.slack.com" + hookPath},
		"ftp webhook":  {WebhookURL: "ftp://hooks.slack.com" + hookPath},
		"bad api url":  {Token: token, APIURL: "slack.local/api"},
		"ws api url":   {Token: token, APIURL: "ws://slack.local/api/"},
		"odd webhook:": {WebhookURL: "https://hooks.slack.com:bad" + hookPath},
	} {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("%s: New = nil error", name)
		}
		noSecrets(t, err, cfg.WebhookURL)
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(map[string]any{"text": "{{ group }} recovered"}); err != nil {
		t.Errorf("Validate = %v", err)
	}
	if err := Validate(map[string]any{"channel": "#x"}); err == nil {
		t.Error("Validate without text or blocks = nil")
	}
}
