package mailjet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/heraldmail/herald/actions"
)

const (
	// DefaultBaseURL is Mailjet's API.
	DefaultBaseURL = "https://api.mailjet.com"
	// DefaultTimeout bounds one call when Config.Timeout is zero.
	DefaultTimeout = 30 * time.Second
	// MaxBatch is the most messages Mailjet takes in one call.
	MaxBatch = 50
)

// Address is an email address and an optional display name.
type Address struct {
	Email string
	Name  string
}

// Config is a `mailjet` connection.
type Config struct {
	APIKey, APISecret string
	// From is the sender of every message; rules cannot change it.
	From Address
	// BaseURL defaults to DefaultBaseURL; tests and staging point it at a
	// local server.
	BaseURL string
	// Sandbox sends SandboxMode: Mailjet validates and sends nothing.
	Sandbox bool
	// HTTPClient sends the requests; nil means a new http.Client. It is
	// copied, and the copy does not follow redirects.
	HTTPClient *http.Client
	// Timeout bounds one call (one batch); 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the warning for a 200 whose body cannot be read; nil
	// means slog.Default().
	Logger *slog.Logger
}

// Mailjet sends `mailjet` actions through one connection.
type Mailjet struct {
	endpoint          string
	apiKey, apiSecret string
	from              address
	sandbox           bool
	client            *http.Client
	timeout           time.Duration
	log               *slog.Logger
}

var _ interface {
	Do(context.Context, string, map[string]any) error
} = (*Mailjet)(nil)

// New checks cfg and returns a Mailjet.
func New(cfg Config) (*Mailjet, error) {
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("mailjet: api_key and api_secret are required")
	}
	from, err := mail.ParseAddress(cfg.From.Email)
	if err != nil || from.Address != strings.TrimSpace(cfg.From.Email) {
		return nil, fmt.Errorf("mailjet: from email %q: want a bare address", cfg.From.Email)
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mailjet: base_url %s: want an http or https URL without query", actions.RedactURL(base))
	}
	m := &Mailjet{
		endpoint:  strings.TrimSuffix(u.String(), "/") + "/v3.1/send",
		apiKey:    cfg.APIKey,
		apiSecret: cfg.APISecret,
		from:      address{Email: from.Address, Name: cfg.From.Name},
		sandbox:   cfg.Sandbox,
		client:    actions.NoRedirects(cfg.HTTPClient),
		timeout:   cfg.Timeout,
		log:       cfg.Logger,
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// Do sends the action's messages, one per recipient, in batches of at most
// MaxBatch. id is the firing id, the default CustomID. See the package doc
// for what each outcome returns.
func (m *Mailjet) Do(ctx context.Context, id string, params map[string]any) error {
	s, err := parse(id, params)
	if err != nil {
		return m.redact(actions.Permanent(fmt.Errorf("mailjet: %w", err)))
	}
	var (
		done   int
		failed []any // the `to` entries that were not sent
		errs   []error
	)
	for start := 0; start < len(s.to); start += MaxBatch {
		batch := s.to[start:min(start+MaxBatch, len(s.to))]
		results, err := m.post(ctx, s.messages(m.from, batch))
		if err != nil {
			// Nothing of this batch was accepted; the service is down,
			// limiting us or refusing us, so later batches would fare the
			// same: stop and report them all.
			for _, r := range s.to[start:] {
				failed = append(failed, r.orig)
			}
			errs = append(errs, fmt.Errorf("%s not sent: %w", plural(len(s.to)-start, "message"), err))
			break
		}
		for i, res := range results {
			if res == nil {
				done++
				continue
			}
			failed = append(failed, batch[i].orig)
			errs = append(errs, fmt.Errorf("%s: %w", batch[i].addr.Email, res))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err = fmt.Errorf("mailjet: %w", combine(errs))
	if done > 0 {
		narrowed := make(map[string]any, len(params))
		for k, v := range params {
			narrowed[k] = v
		}
		narrowed["to"] = failed
		err = &actions.PartialError{Done: done, Failed: narrowed, Err: err}
	}
	return m.redact(err)
}

func (m *Mailjet) redact(err error) error {
	return actions.Redact(err, m.apiKey, m.apiSecret)
}

// messages builds one message per recipient.
func (s *send) messages(from address, to []recipient) []message {
	out := make([]message, len(to))
	for i, r := range to {
		out[i] = s.msg
		out[i].From = from
		out[i].To = []address{r.addr}
	}
	return out
}

// post sends one batch. It returns one result per message (nil: sent) when
// Mailjet said what became of each, or an error when the batch as a whole
// failed and none of it was sent.
func (m *Mailjet) post(ctx context.Context, msgs []message) ([]error, error) {
	body, err := json.Marshal(sendRequest{Messages: msgs, SandboxMode: m.sandbox})
	if err != nil {
		return nil, actions.Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, actions.Permanent(err)
	}
	req.SetBasicAuth(m.apiKey, m.apiSecret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "herald")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, actions.Redact(err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	// 50 results are a few kB; the bound only guards against a runaway body.
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var parsed sendResponse
	if readErr == nil && json.Unmarshal(raw, &parsed) == nil && len(parsed.Messages) == len(msgs) {
		// Per-message results decide, whatever the HTTP status.
		results := make([]error, len(msgs))
		for i, r := range parsed.Messages {
			results[i] = r.err()
		}
		return results, nil
	}
	if resp.StatusCode/100 == 2 {
		m.log.Warn("mailjet: batch accepted but its results are unreadable; counting it as sent",
			"status", resp.StatusCode, "messages", len(msgs), "custom_id", msgs[0].CustomID,
			"body", actions.Excerpt(raw), "read_error", readErr)
		return make([]error, len(msgs)), nil
	}
	return nil, actions.FromResponse(resp, raw)
}

// err classifies one message's result: nil when sent; a 429 or 5xx is
// retryable, anything else permanent.
func (r messageResult) err() error {
	if r.Status != "error" && len(r.Errors) == 0 {
		return nil
	}
	retry, status := false, 0
	var msgs []string
	for _, e := range r.Errors {
		msgs = append(msgs, fmt.Sprintf("%s %s (%d)", e.ErrorCode, e.ErrorMessage, e.StatusCode))
		if e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 {
			retry = true
		}
		status = max(status, e.StatusCode)
	}
	if len(msgs) == 0 {
		msgs = []string{"status " + r.Status}
	}
	return &actions.Error{Retryable: retry, Status: status, Err: errors.New(strings.Join(msgs, "; "))}
}

// combine merges the failures of one Do into one classified error: it is
// retryable when any part is (the parts that fail for good fail again and
// end in dead letters on their own), and waits the longest Retry-After.
func combine(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	j := &joined{errs: errs}
	e := &actions.Error{Err: j}
	for _, err := range errs {
		if retry, after := actions.Retryable(err); retry {
			e.Retryable = true
			e.RetryAfter = max(e.RetryAfter, after)
		}
	}
	return e
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// joined lists several failures on one line, the first few in full.
type joined struct{ errs []error }

func (j *joined) Error() string {
	const shown = 5
	var msgs []string
	for _, err := range j.errs[:min(shown, len(j.errs))] {
		msgs = append(msgs, err.Error())
	}
	s := fmt.Sprintf("%d failures: %s", len(j.errs), strings.Join(msgs, "; "))
	if len(j.errs) > shown {
		s += fmt.Sprintf("; and %d more", len(j.errs)-shown)
	}
	return s
}

func (j *joined) Unwrap() []error { return j.errs }
