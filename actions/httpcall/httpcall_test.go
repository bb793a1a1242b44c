package httpcall

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldmail/herald/actions"
	"github.com/heraldmail/herald/internal/testutil"
)

const (
	crmToken      = "crm-bearer-token-0123456789"
	signingSecret = "whsec-test-signing-secret"
	basePassword  = "base-url-password-42"
)

var secrets = []string{crmToken, signingSecret, basePassword}

// noSecrets fails the test when err's message carries a credential.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

type seen struct {
	method, escapedPath, query, body string
	header                           http.Header
}

// recorder is a test receiver: it records each request and answers with
// respond (200 when nil).
type recorder struct {
	mu      sync.Mutex
	reqs    []seen
	respond func(w http.ResponseWriter, r *http.Request)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body), r.Header.Clone()})
	rec.mu.Unlock()
	if rec.respond != nil {
		rec.respond(w, r)
	}
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func newServer(t *testing.T, respond func(http.ResponseWriter, *http.Request)) (*recorder, *httptest.Server) {
	rec := &recorder{respond: respond}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

var fixedNow = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) } // 1767225600

func TestRequest(t *testing.T) {
	tests := []struct {
		name     string
		basePath string
		params   map[string]any
		want     seen // header: only the listed ones are compared
		absent   []string
	}{{
		name:     "CRM unsubscribe, signed JSON",
		basePath: "/api",
		params: map[string]any{
			"path": "/contacts/a%40x.com/unsubscribe",
			"json": map[string]any{"email": "a@x.com", "reason": "unsub"},
		},
		want: seen{method: "POST", escapedPath: "/api/contacts/a%40x.com/unsubscribe",
			body: `{"email":"a@x.com","reason":"unsub"}`,
			header: http.Header{
				"Content-Type":       {"application/json"},
				"Authorization":      {"Bearer " + crmToken},
				"Idempotency-Key":    {"open-discount/a@x.com/7"},
				"X-Herald-Timestamp": {"1767225600"},
				"X-Herald-Signature": {"v1=664016034caab040af0c1ea094a5f2d4331c030c0321e084c263c78b04ea80bd"},
				"User-Agent":         {"herald"},
			}},
	}, {
		name:     "GET with query, no body, default method overridden, base with trailing slash",
		basePath: "/api/",
		params: map[string]any{
			"method":  "get",
			"path":    "lookup",
			"query":   map[string]any{"email": "a+b@x.com", "n": float64(3), "tag": []any{"x", "y"}, "vip": true},
			"headers": map[string]any{"X-Source": "herald-rule", "accept": "application/json"},
		},
		want: seen{method: "GET", escapedPath: "/api/lookup", query: "email=a%2Bb%40x.com&n=3&tag=x&tag=y&vip=true",
			header: http.Header{
				"X-Source":           {"herald-rule"},
				"Accept":             {"application/json"},
				"Idempotency-Key":    {"open-discount/a@x.com/7"},
				"X-Herald-Signature": {"v1=59fe2212e403b6ad748063fbfa29b2da23732e8431b858086748888f18bb37d7"},
			}},
		absent: []string{"Content-Type"},
	}, {
		name:     "form body, no path: the base URL itself",
		basePath: "/hook",
		params:   map[string]any{"method": "PUT", "form": map[string]any{"email": "a@x.com", "score": float64(4242)}},
		want: seen{method: "PUT", escapedPath: "/hook", body: "email=a%40x.com&score=4242",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, srv := newServer(t, nil)
			h, err := New(Config{
				BaseURL:       srv.URL + tt.basePath,
				Headers:       map[string]string{"Authorization": "Bearer " + crmToken},
				SigningSecret: signingSecret,
				Now:           fixedNow,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Do(context.Background(), "open-discount/a@x.com/7", tt.params); err != nil {
				t.Fatalf("Do: %v", err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.method != tt.want.method || got.escapedPath != tt.want.escapedPath || got.query != tt.want.query || got.body != tt.want.body {
				t.Errorf("got %s %s ? %s body %q\nwant %s %s ? %s body %q",
					got.method, got.escapedPath, got.query, got.body, tt.want.method, tt.want.escapedPath, tt.want.query, tt.want.body)
			}
			for name, want := range tt.want.header {
				if g := got.header.Values(name); strings.Join(g, ",") != strings.Join(want, ",") {
					t.Errorf("header %s = %q, want %q", name, g, want)
				}
			}
			for _, name := range tt.absent {
				if v := got.header.Get(name); v != "" {
					t.Errorf("header %s = %q, want none", name, v)
				}
			}
		})
	}
}

func TestSignMatchesAnIndependentVector(t *testing.T) {
	// Computed with Python's hmac module, not with this package.
	got := Sign(signingSecret, 1767225600, []byte(`{"email":"a@x.com","reason":"unsub"}`))
	if want := "v1=664016034caab040af0c1ea094a5f2d4331c030c0321e084c263c78b04ea80bd"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestNoSignatureWithoutSecret(t *testing.T) {
	rec, srv := newServer(t, nil)
	h, err := New(Config{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Do(context.Background(), "id-1", map[string]any{"json": []any{1.0}}); err != nil {
		t.Fatal(err)
	}
	got := rec.requests()[0].header
	if got.Get(HeaderSignature) != "" || got.Get(HeaderTimestamp) != "" || got.Get(HeaderIdempotencyKey) != "id-1" {
		t.Fatalf("headers = %v", got)
	}
}

func TestOutcomes(t *testing.T) {
	date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	status := func(code int, header ...string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			_, _ = io.WriteString(w, "answer "+http.StatusText(code))
		}
	}
	tests := []struct {
		name      string
		respond   func(http.ResponseWriter, *http.Request)
		wantErr   bool
		wantRetry bool
		wantAfter time.Duration
		wantMsg   string
	}{
		{name: "200", respond: status(200)},
		{name: "201", respond: status(201)},
		{name: "204", respond: status(204)},
		{name: "400", respond: status(400), wantErr: true, wantMsg: "http POST /contacts: HTTP 400 Bad Request: answer Bad Request"},
		{name: "404", respond: status(404), wantErr: true, wantMsg: "HTTP 404 Not Found"},
		{name: "302 not followed", respond: status(302, "Location", "http://127.0.0.1:1/elsewhere"), wantErr: true, wantMsg: "HTTP 302 Found"},
		{name: "408", respond: status(408), wantErr: true, wantRetry: true},
		{name: "429 without Retry-After", respond: status(429), wantErr: true, wantRetry: true, wantMsg: "HTTP 429"},
		{name: "429 Retry-After seconds", respond: status(429, "Retry-After", "30"), wantErr: true, wantRetry: true, wantAfter: 30 * time.Second},
		{name: "429 Retry-After HTTP date", respond: status(429, "Date", date.Format(http.TimeFormat), "Retry-After", date.Add(2*time.Minute).Format(http.TimeFormat)),
			wantErr: true, wantRetry: true, wantAfter: 2 * time.Minute},
		{name: "500", respond: status(500), wantErr: true, wantRetry: true, wantMsg: "HTTP 500 Internal Server Error"},
		{name: "503", respond: status(503, "Retry-After", "5"), wantErr: true, wantRetry: true, wantAfter: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, srv := newServer(t, tt.respond)
			h, err := New(Config{BaseURL: srv.URL, Headers: map[string]string{"Authorization": "Bearer " + crmToken}, SigningSecret: signingSecret})
			if err != nil {
				t.Fatal(err)
			}
			err = h.Do(context.Background(), "id", map[string]any{"path": "/contacts", "json": map[string]any{"a": 1.0}})
			noSecrets(t, err)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do = %v, want error %v", err, tt.wantErr)
			}
			if len(rec.requests()) != 1 {
				t.Errorf("%d requests, want exactly 1 (no redirect, no retry inside Do)", len(rec.requests()))
			}
			if err == nil {
				return
			}
			retry, after := actions.Retryable(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable = %v, %v; want %v, %v (err %v)", retry, after, tt.wantRetry, tt.wantAfter, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestTimeoutRefusedCancelled(t *testing.T) {
	release := make(chan struct{})
	_, hang := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // runs before hang.Close

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name      string
		base      string
		ctx       func() context.Context
		wantRetry bool
		wantIs    error
	}{
		{"hangs past the timeout", hang.URL, context.Background, true, context.DeadlineExceeded},
		{"connection refused", refused, context.Background, true, nil},
		{"caller cancelled", hang.URL, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(Config{BaseURL: tt.base + "/api", Timeout: 50 * time.Millisecond,
				Headers: map[string]string{"X-Api-Key": crmToken}})
			if err != nil {
				t.Fatal(err)
			}
			err = h.Do(tt.ctx(), "id", map[string]any{"path": "x"})
			noSecrets(t, err)
			if err == nil {
				t.Fatal("Do = nil, want an error")
			}
			if retry, _ := actions.Retryable(err); retry != tt.wantRetry {
				t.Errorf("Retryable = %v, want %v (err %v)", retry, tt.wantRetry, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err %v is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestRejectedParams(t *testing.T) {
	rec, srv := newServer(t, nil)
	h, err := New(Config{
		BaseURL: "http://user:" + basePassword + "@" + strings.TrimPrefix(srv.URL, "http://") + "/api?key=conn",
		Headers: map[string]string{"X-Api-Key": crmToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		params  map[string]any
		wantMsg string
	}{
		{"dot-dot", map[string]any{"path": "/contacts/../admin"}, "dot segments"},
		{"leading dot-dot", map[string]any{"path": "../x"}, "dot segments"},
		{"escaped dot-dot", map[string]any{"path": "/%2e%2e/admin"}, "dot segments"},
		{"escaped dot-dot-slash in a segment", map[string]any{"path": "/a%2F..%2Fadmin"}, "dot segments"},
		{"absolute URL", map[string]any{"path": "https://evil.example/x"}, "not a URL"},
		{"scheme only", map[string]any{"path": "javascript:alert(1)"}, "not a URL"},
		{"protocol-relative", map[string]any{"path": "//evil.example/x"}, "want a path under base_url"},
		{"backslash", map[string]any{"path": `/\evil.example`}, "want a path under base_url"},
		{"query in path", map[string]any{"path": "/x?key=steal"}, "use query"},
		{"fragment", map[string]any{"path": "/x#f"}, "want a path under base_url"},
		{"CRLF", map[string]any{"path": "/x\r\nHost: evil"}, "control characters"},
		{"empty segment", map[string]any{"path": "/a//b"}, "empty segment"},
		{"path not a string", map[string]any{"path": 3.0}, "want a string"},
		{"override connection query", map[string]any{"query": map[string]any{"key": "mine"}}, `query "key" is set by the connection`},
		{"Authorization", map[string]any{"headers": map[string]any{"authorization": "Bearer mine"}}, "may not be set by a rule"},
		{"connection header", map[string]any{"headers": map[string]any{"x-api-key": "mine"}}, "may not be set by a rule"},
		{"Idempotency-Key", map[string]any{"headers": map[string]any{"Idempotency-Key": "other"}}, "may not be set by a rule"},
		{"signature", map[string]any{"headers": map[string]any{"X-Herald-Signature": "v1=0"}}, "may not be set by a rule"},
		{"Host", map[string]any{"headers": map[string]any{"Host": "evil.example"}}, "may not be set by a rule"},
		{"Cookie", map[string]any{"headers": map[string]any{"Cookie": "a=b"}}, "may not be set by a rule"},
		{"header injection", map[string]any{"headers": map[string]any{"X-A": "a\r\nX-B: b"}}, "control character"},
		{"bad header name", map[string]any{"headers": map[string]any{"X A": "a"}}, "not a token"},
		{"json and form", map[string]any{"json": 1.0, "form": map[string]any{}}, "exclusive"},
		{"form not a map", map[string]any{"form": "a=b"}, "want a map"},
		{"unknown key", map[string]any{"url": "https://evil.example"}, `unknown key "url"`},
		{"bad method", map[string]any{"method": "CONNECT"}, "method CONNECT"},
		{"object in query", map[string]any{"query": map[string]any{"a": map[string]any{}}}, "want a string, number or boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.Do(context.Background(), "id", tt.params)
			noSecrets(t, err)
			testutil.BadAction(t, err, tt.wantMsg)
		})
	}
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("%d requests reached the server, want 0", n)
	}
	if err := h.Do(context.Background(), "", nil); err == nil {
		t.Error("an empty firing id must be refused")
	}
}

func TestPathsThatStayUnder(t *testing.T) {
	rec, srv := newServer(t, nil)
	tests := []struct{ base, path, want string }{
		{"", "", "/"},
		{"", "/x", "/x"},
		{"/api", "", "/api"},
		{"/api", "contacts/", "/api/contacts/"},
		{"/api/", "/a%2Fb/c", "/api/a%2Fb/c"},
		{"/api", "/v1/..x/", "/api/v1/..x/"},
		{"/api", "/user@x.com", "/api/user@x.com"},
		{"/api", "@evil.example", "/api/@evil.example"},
	}
	for _, tt := range tests {
		h, err := New(Config{BaseURL: srv.URL + tt.base})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Do(context.Background(), "id", map[string]any{"path": tt.path}); err != nil {
			t.Errorf("path %q: %v", tt.path, err)
			continue
		}
		reqs := rec.requests()
		if got := reqs[len(reqs)-1].escapedPath; got != tt.want {
			t.Errorf("base %q + path %q = %q, want %q", tt.base, tt.path, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	bad := []Config{
		{BaseURL: ""},
		{BaseURL: "crm.example.com/api"},
		{BaseURL: "ftp://crm.example.com"},
		{BaseURL: "https://crm.example.com/api#frag"},
		{BaseURL: "https://crm.example.com", Headers: map[string]string{"Idempotency-Key": "x"}},
		{BaseURL: "https://crm.example.com", Headers: map[string]string{"X-Key": "a\nb"}},
	}
	for _, cfg := range bad {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
		noSecrets(t, err)
	}
	_, err := New(Config{BaseURL: "https://u:" + basePassword + "@crm.example.com/api#x"})
	if err == nil || strings.Contains(err.Error(), basePassword) {
		t.Errorf("New error %v must exist and hide the password", err)
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(map[string]any{"method": "POST", "path": "/contacts/{{ urlquery(email) }}", "json": map[string]any{"e": "{{ email }}"}}); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
	for _, p := range []map[string]any{
		{"url": "x"},
		{"json": 1.0, "form": map[string]any{}},
		{"headers": map[string]any{"Authorization": "x"}},
	} {
		if err := Validate(p); err == nil {
			t.Errorf("Validate(%v) = nil", p)
		}
	}
}
