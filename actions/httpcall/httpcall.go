package httpcall

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldmail/herald/actions"
)

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Header names herald sets on every request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Herald-Timestamp"
	HeaderSignature      = "X-Herald-Signature"
)

// Config is an `http` connection.
type Config struct {
	// BaseURL is where every path of the connection lives, e.g.
	// https://crm.example.com/api. Its scheme, host, user info and query
	// are the connection's; a rule only adds a path below it.
	BaseURL string
	// Headers are sent on every request (Authorization, API keys); a rule
	// cannot override them.
	Headers map[string]string
	// SigningSecret, when set, signs each request (see the package doc).
	SigningSecret string
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a new http.Client. It is
	// copied, and the copy does not follow redirects.
	HTTPClient *http.Client
	// Now is the clock for the signature timestamp; nil means time.Now.
	Now func() time.Time
}

// HTTPCall sends `http` actions through one connection.
type HTTPCall struct {
	base    *url.URL
	headers http.Header
	secret  string
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
	// secrets are scrubbed from every error: header values, the signing
	// secret and the base URL's password.
	secrets []string
}

var _ interface {
	Do(context.Context, string, map[string]any) error
} = (*HTTPCall)(nil)

// New checks cfg and returns an HTTPCall.
func New(cfg Config) (*HTTPCall, error) {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("http: base_url %s: want an absolute http or https URL", actions.RedactURL(cfg.BaseURL))
	}
	if base.Fragment != "" {
		return nil, fmt.Errorf("http: base_url %s: must not have a fragment", actions.RedactURL(cfg.BaseURL))
	}
	h := &HTTPCall{
		base:    base,
		headers: http.Header{},
		secret:  cfg.SigningSecret,
		timeout: cfg.Timeout,
		client:  actions.NoRedirects(cfg.HTTPClient),
		now:     cfg.Now,
		secrets: []string{cfg.SigningSecret},
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	if h.now == nil {
		h.now = time.Now
	}
	if pw, ok := base.User.Password(); ok {
		h.secrets = append(h.secrets, pw)
	}
	for name, value := range cfg.Headers {
		if err := checkHeader(name, value); err != nil {
			return nil, fmt.Errorf("http: connection header: %w", err)
		}
		switch http.CanonicalHeaderKey(name) {
		case HeaderIdempotencyKey, HeaderTimestamp, HeaderSignature, "Host", "Content-Length", "Transfer-Encoding":
			return nil, fmt.Errorf("http: connection header %q is set by herald", name)
		}
		h.headers.Set(name, value)
		// "Bearer <token>": the token alone may be echoed too.
		h.secrets = append(h.secrets, value)
		if f := strings.Fields(value); len(f) > 1 {
			h.secrets = append(h.secrets, f[len(f)-1])
		}
	}
	return h, nil
}

// Do sends the request described by params. id is the firing id, sent as
// the Idempotency-Key header.
func (h *HTTPCall) Do(ctx context.Context, id string, params map[string]any) error {
	c, err := h.parse(id, params)
	if err != nil {
		return actions.Redact(actions.Permanent(fmt.Errorf("http: %w", err)), h.secrets...)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := h.request(ctx, id, c)
	if err != nil {
		return actions.Redact(actions.Permanent(fmt.Errorf("http %s %s: %w", c.method, c.path, err)), h.secrets...)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return actions.Redact(fmt.Errorf("http %s %s: %w", c.method, c.path, err), h.secrets...)
	}
	defer func() {
		// Drain a little so the connection can be reused, not a whole
		// unbounded body.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2*actions.MaxExcerpt))
	if err := actions.FromResponse(resp, body); err != nil {
		return actions.Redact(fmt.Errorf("http %s %s: %w", c.method, c.path, err), h.secrets...)
	}
	return nil
}

// request builds the HTTP request: connection headers, then the rule's,
// then herald's own (idempotency key, signature).
func (h *HTTPCall) request(ctx context.Context, id string, c *call) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url.String(), bytes.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "herald")
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for name, values := range h.headers {
		req.Header[name] = values
	}
	for name, value := range c.headers {
		req.Header.Set(name, value)
	}
	req.Header.Set(HeaderIdempotencyKey, id)
	if h.secret != "" {
		ts := h.now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(h.secret, ts, c.body))
	}
	return req, nil
}

// Sign returns the X-Herald-Signature value for a body sent at timestamp
// (Unix seconds): "v1=" and the hex HMAC-SHA256 of "<timestamp>.<body>".
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// checkHeader accepts an HTTP token as the name and a value without
// control characters (no CR/LF header injection).
func checkHeader(name, value string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	for _, r := range name {
		if r >= 0x7f || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return fmt.Errorf("header name %q is not a token", name)
		}
	}
	for _, r := range value {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return fmt.Errorf("header %q: control character in value", name)
		}
	}
	return nil
}
