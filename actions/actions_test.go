package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFromResponse(t *testing.T) {
	date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		code      int
		header    http.Header
		body      string
		wantNil   bool
		wantRetry bool
		wantAfter time.Duration
		wantMsg   string
	}{
		{name: "200", code: 200, wantNil: true},
		{name: "204", code: 204, wantNil: true},
		{name: "400", code: 400, body: `{"error":"bad"}`, wantMsg: `HTTP 400 Bad Request: {"error":"bad"}`},
		{name: "401", code: 401, wantMsg: "HTTP 401 Unauthorized"},
		{name: "404", code: 404, body: "no such contact", wantMsg: "HTTP 404 Not Found: no such contact"},
		{name: "302 is not followed and not retried", code: 302, wantMsg: "HTTP 302 Found"},
		{name: "408", code: 408, wantRetry: true, wantMsg: "HTTP 408 Request Timeout"},
		{name: "429 without Retry-After", code: 429, body: "<html>\n<body>Too many</body>\n</html>", wantRetry: true,
			wantMsg: "HTTP 429 Too Many Requests: <html> <body>Too many</body> </html>"},
		{name: "429 Retry-After seconds", code: 429, header: http.Header{"Retry-After": {"17"}}, wantRetry: true, wantAfter: 17 * time.Second,
			wantMsg: "HTTP 429 Too Many Requests"},
		{name: "429 Retry-After date, from the Date header", code: 429,
			header: http.Header{
				"Date":        {date.Format(http.TimeFormat)},
				"Retry-After": {date.Add(90 * time.Second).Format(http.TimeFormat)},
			},
			wantRetry: true, wantAfter: 90 * time.Second, wantMsg: "HTTP 429 Too Many Requests"},
		{name: "429 Retry-After date in the past", code: 429,
			header:    http.Header{"Date": {date.Format(http.TimeFormat)}, "Retry-After": {date.Add(-time.Minute).Format(http.TimeFormat)}},
			wantRetry: true, wantMsg: "HTTP 429 Too Many Requests"},
		{name: "429 Retry-After garbage", code: 429, header: http.Header{"Retry-After": {"soon"}}, wantRetry: true,
			wantMsg: "HTTP 429 Too Many Requests"},
		{name: "500", code: 500, body: "oops", wantRetry: true, wantMsg: "HTTP 500 Internal Server Error: oops"},
		{name: "503 Retry-After", code: 503, header: http.Header{"Retry-After": {"120"}}, wantRetry: true, wantAfter: 2 * time.Minute,
			wantMsg: "HTTP 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			err := FromResponse(&http.Response{StatusCode: tt.code, Header: h}, []byte(tt.body))
			if tt.wantNil {
				if err != nil {
					t.Fatalf("FromResponse = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("FromResponse = nil, want an error")
			}
			retry, after := Retryable(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable = %v, %v; want %v, %v", retry, after, tt.wantRetry, tt.wantAfter)
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.code {
				t.Errorf("Status = %+v, want %d", e, tt.code)
			}
		})
	}
}

func TestExcerptIsBounded(t *testing.T) {
	body := strings.Repeat("é", 1000) // 2 bytes each: the cut must not split one
	got := Excerpt([]byte(body))
	if len(got) > MaxExcerpt+len("…") {
		t.Fatalf("len = %d, want at most %d", len(got), MaxExcerpt+len("…"))
	}
	if !strings.HasSuffix(got, "…") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("excerpt = %q", got[len(got)-10:])
	}
	if got := Excerpt([]byte("short\n body ")); got != "short body" {
		t.Fatalf("Excerpt = %q", got)
	}
}

func TestRetryable(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name      string
		err       error
		wantRetry bool
		wantAfter time.Duration
	}{
		{"nil", nil, false, 0},
		{"permanent", Permanent(errors.New("bad")), false, 0},
		{"retry", Retry(errors.New("busy"), 3*time.Second), true, 3 * time.Second},
		{"wrapped retry", fmt.Errorf("slack: %w", Retry(errors.New("busy"), time.Second)), true, time.Second},
		{"permanent wins over a network error inside", Permanent(refused), false, 0},
		{"connection refused", refused, true, 0},
		{"bare ECONNRESET", fmt.Errorf("read: %w", syscall.ECONNRESET), true, 0},
		{"unexpected EOF", fmt.Errorf("body: %w", io.ErrUnexpectedEOF), true, 0},
		{"deadline", &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, true, 0},
		{"caller cancelled", &url.Error{Op: "Post", URL: "http://x", Err: context.Canceled}, false, 0},
		{"unknown", errors.New("what"), false, 0},
		{"partial, retryable inside", &PartialError{Done: 1, Err: Retry(errors.New("503"), time.Minute)}, true, time.Minute},
		{"partial, permanent inside", &PartialError{Done: 1, Err: Permanent(errors.New("400"))}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retry, after := Retryable(tt.err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable(%v) = %v, %v; want %v, %v", tt.err, retry, after, tt.wantRetry, tt.wantAfter)
			}
		})
	}
	if Permanent(nil) != nil || Retry(nil, time.Second) != nil {
		t.Error("Permanent(nil) and Retry(nil) must be nil")
	}
	if e := Permanent(FromResponse(&http.Response{StatusCode: 503, Header: http.Header{}}, nil)).(*Error); e.Status != 503 {
		t.Errorf("Permanent lost the status: %d", e.Status)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXXsecret", "https://hooks.slack.com/…"},
		{"https://user:pass@crm.example.com:8443/api?key=k#f", "https://crm.example.com:8443/…"},
		{"https://api.mailjet.com", "https://api.mailjet.com"},
		{"https://api.mailjet.com/", "https://api.mailjet.com"},
		{"http://h/?token=t", "http://h/…"},
		{"not a url", "[redacted URL]"},
		{"://bad", "[redacted URL]"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T000/B000/XXXXsecret"
	netErr := fmt.Errorf("failed to post webhook: %w",
		&url.Error{Op: "Post", URL: hook, Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}})

	got := Redact(netErr)
	if strings.Contains(got.Error(), "XXXXsecret") || !strings.Contains(got.Error(), "https://hooks.slack.com/…") {
		t.Errorf("Redact = %q", got)
	}
	if retry, _ := Retryable(got); !retry {
		t.Error("a redacted network error must stay retryable")
	}
	var ue *url.Error
	if errors.As(got, &ue) {
		t.Error("the *url.Error (and its URL) must not be reachable any more")
	}

	perm := fmt.Errorf("post to key-123: %w", &Error{Status: 401, Err: errors.New("HTTP 401 for key-123")})
	got = Redact(perm, "key-123", "")
	if want := "post to [redacted]: HTTP 401 for [redacted]"; got.Error() != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if retry, _ := Retryable(got); retry || statusOf(got) != 401 {
		t.Errorf("classification lost: retry=%v status=%d", retry, statusOf(got))
	}

	cancelled := &url.Error{Op: "Post", URL: hook, Err: context.Canceled}
	if got := Redact(cancelled); !errors.Is(got, context.Canceled) || strings.Contains(got.Error(), "secret") {
		t.Errorf("Redact(cancelled) = %v, must still be context.Canceled", got)
	}

	clean := errors.New("nothing to hide")
	if Redact(clean, "secret") != clean {
		t.Error("Redact must return a clean error unchanged")
	}
	if Redact(nil, "x") != nil {
		t.Error("Redact(nil) != nil")
	}

	pe := &PartialError{Done: 2, Failed: map[string]any{"to": []any{"b@x.com"}}, Err: Retry(errors.New("batch 2: key-123 busy"), time.Second)}
	got = Redact(pe, "key-123")
	var gotPE *PartialError
	if !errors.As(got, &gotPE) || gotPE.Done != 2 || strings.Contains(got.Error(), "key-123") {
		t.Fatalf("Redact(partial) = %#v", got)
	}
	if retry, after := Retryable(got); !retry || after != time.Second {
		t.Errorf("partial classification lost: %v %v", retry, after)
	}
}

func TestNoRedirects(t *testing.T) {
	base := &http.Client{Timeout: time.Second}
	c := NoRedirects(base)
	if c == base || base.CheckRedirect != nil || c.Timeout != time.Second {
		t.Fatal("NoRedirects must copy the client and keep its settings")
	}
	if err := c.CheckRedirect(nil, nil); !errors.Is(err, http.ErrUseLastResponse) {
		t.Fatalf("CheckRedirect = %v", err)
	}
	if NoRedirects(nil).CheckRedirect == nil {
		t.Fatal("NoRedirects(nil) must build a client")
	}
}
