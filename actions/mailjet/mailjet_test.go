package mailjet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldmail/herald/actions"
	"github.com/heraldmail/herald/internal/testutil"
)

const (
	apiKey    = "mj-public-key-0123456789"
	apiSecret = "mj-private-secret-9876543210"
)

// noSecrets fails the test when err's message carries a credential.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{apiKey, apiSecret} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

type call struct {
	method, path, auth, contentType string
	body                            []byte
	req                             sendRequest
}

// fake is a scripted Mailjet. By default it accepts every message; fail
// makes the message to an address fail with that per-message status, and
// answer, when set, replaces the whole answer of call n (0-based).
type fake struct {
	mu     sync.Mutex
	calls  []call
	fail   map[string]int
	answer func(n int, req sendRequest) (status int, header http.Header, body string)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req sendRequest
	_ = json.Unmarshal(body, &req)
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body, req})
	f.mu.Unlock()
	status, header, out := http.StatusOK, http.Header{}, ""
	if f.answer != nil {
		status, header, out = f.answer(n, req)
	} else {
		status, out = f.results(req)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

// results answers like Mailjet: one result per message, HTTP 400 when any
// failed.
func (f *fake) results(req sendRequest) (int, string) {
	status := http.StatusOK
	var res []string
	for i, m := range req.Messages {
		email := m.To[0].Email
		if code := f.fail[email]; code != 0 {
			status = http.StatusBadRequest
			res = append(res, fmt.Sprintf(`{"Status":"error","Errors":[{"ErrorIdentifier":"e-%d","ErrorCode":"mj-0013","StatusCode":%d,"ErrorMessage":"\"%s\" is rejected.","ErrorRelatedTo":["To[0].Email"]}]}`, i, code, email))
			continue
		}
		res = append(res, fmt.Sprintf(`{"Status":"success","CustomID":%q,"To":[{"Email":%q,"MessageUUID":"u-%d","MessageID":576460765503091475,"MessageHref":"https://api.mailjet.com/v3/REST/message/576460765503091475"}],"Cc":[],"Bcc":[]}`, m.CustomID, email, i))
	}
	return status, `{"Messages":[` + strings.Join(res, ",") + `]}`
}

func (f *fake) sent() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func newMailjet(t *testing.T, f *fake, mod ...func(*Config)) *Mailjet {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := Config{APIKey: apiKey, APISecret: apiSecret, From: Address{Email: "news@example.com", Name: "Example"}, BaseURL: srv.URL}
	for _, m := range mod {
		m(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameJSON compares two JSON texts by value.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestTemplateRequest(t *testing.T) {
	f := &fake{}
	m := newMailjet(t, f)
	err := m.Do(context.Background(), "open-discount/42/1", map[string]any{
		"to":            []any{"a@x.com", map[string]any{"email": "b@x.com", "name": "Bea"}},
		"template_id":   "4242",
		"variables":     map[string]any{"code": "OPEN24", "city": nil, "items": []any{map[string]any{"sku": nil}}},
		"event_payload": map[string]any{"rule": "open-discount"},
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.sent()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	c := calls[0]
	// base64("mj-public-key-0123456789:mj-private-secret-9876543210")
	wantAuth := "Basic bWotcHVibGljLWtleS0wMTIzNDU2Nzg5Om1qLXByaXZhdGUtc2VjcmV0LTk4NzY1NDMyMTA="
	if c.method != "POST" || c.path != "/v3.1/send" || c.auth != wantAuth || c.contentType != "application/json" {
		t.Errorf("request %s %s auth %q type %q", c.method, c.path, c.auth, c.contentType)
	}
	msg := `{"From":{"Email":"news@example.com","Name":"Example"},"TemplateID":4242,"TemplateLanguage":true,
		"Variables":{"code":"OPEN24","city":"","items":[{"sku":""}]},
		"CustomID":"open-discount/42/1","EventPayload":"{\"rule\":\"open-discount\"}",`
	sameJSON(t, c.body, `{"Messages":[`+
		msg+`"To":[{"Email":"a@x.com"}]},`+
		msg+`"To":[{"Email":"b@x.com","Name":"Bea"}]}]}`)
}

func TestInlineRequestAndSandbox(t *testing.T) {
	f := &fake{}
	m := newMailjet(t, f, func(c *Config) { c.Sandbox = true; c.From.Name = "" })
	err := m.Do(context.Background(), "fid", map[string]any{
		"to":            "Ann <a@x.com>",
		"subject":       "Hello",
		"text":          "Hi Ann",
		"html":          "<p>Hi Ann</p>",
		"custom_id":     float64(77),
		"event_payload": "raw-payload",
	})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, f.sent()[0].body, `{"SandboxMode":true,"Messages":[{"From":{"Email":"news@example.com"},
		"To":[{"Email":"a@x.com","Name":"Ann"}],"Subject":"Hello","TextPart":"Hi Ann","HTMLPart":"<p>Hi Ann</p>",
		"CustomID":"77","EventPayload":"raw-payload"}]}`)
}

func TestMixed400SendsOnlyTheFailedAgain(t *testing.T) {
	f := &fake{fail: map[string]int{"b@x.com": 400}}
	m := newMailjet(t, f)
	params := map[string]any{
		"to":          []any{"a@x.com", map[string]any{"email": "b@x.com", "name": "Bea"}, "c@x.com", "A@x.com"},
		"template_id": float64(4242),
		"variables":   map[string]any{"code": "X"},
	}
	err := m.Do(context.Background(), "fid", params)
	noSecrets(t, err)
	var pe *actions.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Do = %v, want a *PartialError", err)
	}
	if pe.Done != 2 {
		t.Errorf("Done = %d, want 2", pe.Done)
	}
	wantTo := []any{map[string]any{"email": "b@x.com", "name": "Bea"}}
	if !reflect.DeepEqual(pe.Failed["to"], wantTo) {
		t.Errorf("Failed to = %#v, want %#v", pe.Failed["to"], wantTo)
	}
	if pe.Failed["template_id"] != float64(4242) || !reflect.DeepEqual(pe.Failed["variables"], params["variables"]) {
		t.Errorf("Failed lost the other params: %#v", pe.Failed)
	}
	if !reflect.DeepEqual(params["to"], []any{"a@x.com", map[string]any{"email": "b@x.com", "name": "Bea"}, "c@x.com", "A@x.com"}) {
		t.Error("Do modified the caller's params")
	}
	if retry, _ := actions.Retryable(err); retry {
		t.Error("a per-message 400 must be permanent")
	}
	for _, want := range []string{"b@x.com", "mj-0013", "2 done"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := len(f.sent()[0].req.Messages); got != 3 {
		t.Errorf("sent %d messages, want 3 (A@x.com is a@x.com)", got)
	}

	// Whoever retries uses Failed: only Bea is mailed again.
	f.fail = nil
	if err := m.Do(context.Background(), "fid", pe.Failed); err != nil {
		t.Fatal(err)
	}
	second := f.sent()[1].req.Messages
	if len(second) != 1 || second[0].To[0].Email != "b@x.com" {
		t.Errorf("retry sent %+v, want only b@x.com", second)
	}
}

func recipientsN(n int) []any {
	to := make([]any, n)
	for i := range to {
		to[i] = fmt.Sprintf("r%03d@x.com", i)
	}
	return to
}

func TestBatches(t *testing.T) {
	f := &fake{}
	m := newMailjet(t, f)
	if err := m.Do(context.Background(), "fid", map[string]any{"to": recipientsN(120), "template_id": 1.0}); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range f.sent() {
		sizes = append(sizes, len(c.req.Messages))
	}
	if !reflect.DeepEqual(sizes, []int{50, 50, 20}) {
		t.Fatalf("batch sizes = %v, want [50 50 20]", sizes)
	}
}

func TestBatchFailureStopsAndReportsTheRest(t *testing.T) {
	to := recipientsN(120)
	f := &fake{fail: map[string]int{"r007@x.com": 400}}
	f.answer = func(n int, req sendRequest) (int, http.Header, string) {
		if n == 1 {
			return 503, http.Header{"Retry-After": {"60"}}, "<html>down</html>"
		}
		status, body := f.results(req)
		return status, nil, body
	}
	m := newMailjet(t, f)
	err := m.Do(context.Background(), "fid", map[string]any{"to": to, "template_id": 1.0})
	var pe *actions.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Do = %v, want a *PartialError", err)
	}
	if len(f.sent()) != 2 {
		t.Errorf("%d calls, want 2: a batch failure stops the rest", len(f.sent()))
	}
	if pe.Done != 49 {
		t.Errorf("Done = %d, want 49", pe.Done)
	}
	want := append([]any{"r007@x.com"}, to[50:]...)
	if !reflect.DeepEqual(pe.Failed["to"], want) {
		t.Errorf("Failed to = %v\nwant %v", pe.Failed["to"], want)
	}
	if retry, after := actions.Retryable(err); !retry || after != time.Minute {
		t.Errorf("Retryable = %v, %v; want true, 1m (the 503 is retryable, the 400 fails again on its own)", retry, after)
	}
	for _, s := range []string{"r007@x.com", "70 messages not sent", "HTTP 503"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestOutcomes(t *testing.T) {
	answer := func(status int, header http.Header, body string) func(int, sendRequest) (int, http.Header, string) {
		return func(int, sendRequest) (int, http.Header, string) { return status, header, body }
	}
	tests := []struct {
		name      string
		fake      *fake
		wantErr   bool
		wantRetry bool
		wantAfter time.Duration
		wantMsg   string
	}{
		{name: "200", fake: &fake{}},
		{name: "401 echoing the key", fake: &fake{answer: answer(401, nil,
			`{"ErrorIdentifier":"x","StatusCode":401,"ErrorMessage":"API key `+apiKey+` authentication/authorization failure."}`)},
			wantErr: true, wantMsg: "HTTP 401 Unauthorized"},
		{name: "403", fake: &fake{answer: answer(403, nil, `{"StatusCode":403,"ErrorMessage":"sender not allowed"}`)},
			wantErr: true, wantMsg: "sender not allowed"},
		{name: "400 without per-message results", fake: &fake{answer: answer(400, nil, `{"ErrorIdentifier":"x","StatusCode":400,"ErrorMessage":"Messages is missing"}`)},
			wantErr: true, wantMsg: "HTTP 400"},
		{name: "400 whose results do not match the batch", fake: &fake{answer: answer(400, nil, `{"Messages":[{"Status":"success"}]}`)},
			wantErr: true, wantMsg: "HTTP 400"},
		{name: "every message failed", fake: &fake{fail: map[string]int{"a@x.com": 400, "b@x.com": 400}},
			wantErr: true, wantMsg: `mailjet: 2 failures: a@x.com: mj-0013 "a@x.com" is rejected. (400); b@x.com: mj-0013`},
		{name: "per-message 500 is retryable", fake: &fake{fail: map[string]int{"a@x.com": 500, "b@x.com": 400}},
			wantErr: true, wantRetry: true},
		{name: "429 HTML without Retry-After", fake: &fake{answer: answer(429, http.Header{"Content-Type": {"text/html"}}, "<html><body>Too Many Requests</body></html>")},
			wantErr: true, wantRetry: true, wantMsg: "HTTP 429"},
		{name: "429 with Retry-After", fake: &fake{answer: answer(429, http.Header{"Retry-After": {"9"}}, "")},
			wantErr: true, wantRetry: true, wantAfter: 9 * time.Second},
		{name: "429 with Retry-After as a date", fake: &fake{answer: answer(429, http.Header{
			"Date":        {"Sun, 01 Mar 2026 12:00:00 GMT"},
			"Retry-After": {"Sun, 01 Mar 2026 12:01:30 GMT"},
		}, "")}, wantErr: true, wantRetry: true, wantAfter: 90 * time.Second},
		{name: "500", fake: &fake{answer: answer(500, nil, `{"ErrorMessage":"internal"}`)}, wantErr: true, wantRetry: true, wantMsg: "HTTP 500"},
		{name: "503", fake: &fake{answer: answer(503, nil, "")}, wantErr: true, wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMailjet(t, tt.fake)
			err := m.Do(context.Background(), "fid", map[string]any{"to": []any{"a@x.com", "b@x.com"}, "template_id": 1.0})
			noSecrets(t, err)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do = %v, want error %v", err, tt.wantErr)
			}
			if len(tt.fake.sent()) != 1 {
				t.Errorf("%d calls, want 1", len(tt.fake.sent()))
			}
			if err == nil {
				return
			}
			var pe *actions.PartialError
			if errors.As(err, &pe) {
				t.Errorf("nothing was sent, so no *PartialError: %v", err)
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

func TestUnreadable200CountsAsSent(t *testing.T) {
	var logs bytes.Buffer
	f := &fake{answer: func(int, sendRequest) (int, http.Header, string) { return 200, nil, "<html>proxy</html>" }}
	m := newMailjet(t, f, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	if err := m.Do(context.Background(), "fid", map[string]any{"to": "a@x.com", "template_id": 1.0}); err != nil {
		t.Fatalf("Do = %v, want nil: the batch was accepted", err)
	}
	if len(f.sent()) != 1 {
		t.Errorf("%d calls, want 1", len(f.sent()))
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "custom_id=fid") {
		t.Errorf("no warning logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), apiKey) || strings.Contains(logs.String(), apiSecret) {
		t.Error("the log line carries a credential")
	}
}

func TestTimeoutRefusedCancelled(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first, so hang.Close returns

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
		base      string
		ctx       context.Context
		wantRetry bool
		wantIs    error
	}{
		{"hangs past the timeout", hang.URL, context.Background(), true, context.DeadlineExceeded},
		{"connection refused", refused, context.Background(), true, nil},
		{"caller cancelled", hang.URL, cancelled, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Config{APIKey: apiKey, APISecret: apiSecret, From: Address{Email: "news@example.com"},
				BaseURL: tt.base, Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			err = m.Do(tt.ctx, "fid", map[string]any{"to": "a@x.com", "template_id": 1.0})
			noSecrets(t, err)
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
	f := &fake{}
	m := newMailjet(t, f)
	tests := []struct {
		name    string
		params  map[string]any
		wantMsg string
	}{
		{"from", map[string]any{"to": "a@x.com", "template_id": 1.0, "from": "evil@x.com"}, "from is set by the connection"},
		{"unknown key", map[string]any{"to": "a@x.com", "template_id": 1.0, "bcc": "b@x.com"}, `unknown key "bcc"`},
		{"no to", map[string]any{"template_id": 1.0}, "to is required"},
		{"empty to", map[string]any{"to": []any{}, "template_id": 1.0}, "no recipient"},
		{"bad address", map[string]any{"to": "not an address", "template_id": 1.0}, "to:"},
		{"empty address", map[string]any{"to": "", "template_id": 1.0}, "to:"},
		{"address with name in email", map[string]any{"to": map[string]any{"email": "A <a@x.com>"}, "template_id": 1.0}, "not a bare address"},
		{"recipient key", map[string]any{"to": map[string]any{"email": "a@x.com", "cc": "b"}, "template_id": 1.0}, `unknown key "cc"`},
		{"no content", map[string]any{"to": "a@x.com"}, "want template_id, or subject"},
		{"subject without body", map[string]any{"to": "a@x.com", "subject": "s"}, "want template_id, or subject"},
		{"template and text", map[string]any{"to": "a@x.com", "template_id": 1.0, "text": "t"}, "excludes text"},
		{"template id not a number", map[string]any{"to": "a@x.com", "template_id": "abc"}, "template_id"},
		{"template id fraction", map[string]any{"to": "a@x.com", "template_id": 1.5}, "template_id"},
		{"template id zero", map[string]any{"to": "a@x.com", "template_id": "0"}, "template_id"},
		{"variables not a map", map[string]any{"to": "a@x.com", "template_id": 1.0, "variables": "x"}, "variables"},
		{"template_language not bool", map[string]any{"to": "a@x.com", "template_id": 1.0, "template_language": "yes"}, "template_language"},
		{"subject not a string", map[string]any{"to": "a@x.com", "subject": 1.0, "text": "t"}, "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Do(context.Background(), "fid", tt.params)
			noSecrets(t, err)
			testutil.BadAction(t, err, tt.wantMsg)
		})
	}
	if n := len(f.sent()); n != 0 {
		t.Fatalf("%d calls reached Mailjet, want 0", n)
	}
}

func TestTemplateLanguageCanBeTurnedOff(t *testing.T) {
	f := &fake{}
	m := newMailjet(t, f)
	if err := m.Do(context.Background(), "fid", map[string]any{"to": "a@x.com", "template_id": int64(7), "template_language": false}); err != nil {
		t.Fatal(err)
	}
	msg := f.sent()[0].req.Messages[0]
	if msg.TemplateID != 7 || msg.TemplateLanguage {
		t.Errorf("TemplateID %d TemplateLanguage %v, want 7 false", msg.TemplateID, msg.TemplateLanguage)
	}
}

func TestNew(t *testing.T) {
	good := Config{APIKey: apiKey, APISecret: apiSecret, From: Address{Email: "news@example.com"}}
	m, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if m.endpoint != "https://api.mailjet.com/v3.1/send" {
		t.Errorf("endpoint = %s", m.endpoint)
	}
	for name, mod := range map[string]func(*Config){
		"no key":      func(c *Config) { c.APIKey = "" },
		"no secret":   func(c *Config) { c.APISecret = "" },
		"no from":     func(c *Config) { c.From.Email = "" },
		"from name":   func(c *Config) { c.From.Email = "Ex <news@example.com>" },
		"bad base":    func(c *Config) { c.BaseURL = "api.mailjet.com" },
		"query base":  func(c *Config) { c.BaseURL = "https://api.mailjet.com/?k=" + apiKey },
		"ftp base":    func(c *Config) { c.BaseURL = "ftp://api.mailjet.com" },
		"secret base": func(c *Config) { c.BaseURL = "https://u:" + apiSecret + "@/x" },
	} {
		cfg := good
		mod(&cfg)
		_, err := New(cfg)
		if err == nil {
			t.Errorf("%s: New = nil error", name)
		}
		noSecrets(t, err)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []map[string]any{
		{"to": "{{ email }}", "template_id": "{{ vars.discount_template }}", "variables": map[string]any{"code": "OPEN24"}},
		{"to": "{{ email }}", "subject": "s", "html": "<p>{{ email }}</p>"},
	} {
		if err := Validate(p); err != nil {
			t.Errorf("Validate(%v) = %v", p, err)
		}
	}
}
