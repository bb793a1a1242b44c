package actions

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// RedactURL shortens a URL for messages: scheme://host, then "/…" when it had
// a path, query or fragment. User info, path and query are where webhook
// secrets and API keys live (a Slack webhook URL is a credential), so none of
// them is kept. An unparsable URL becomes "[redacted URL]".
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "[redacted URL]"
	}
	s := p.Scheme + "://" + p.Host
	if (p.Path != "" && p.Path != "/") || p.RawPath != "" || p.RawQuery != "" || p.ForceQuery || p.Fragment != "" {
		s += "/…"
	}
	return s
}

// Redact returns err with a clean message: the URL of a *url.Error in it is
// shortened by RedactURL and every secret is replaced by "[redacted]"
// (secrets shorter than 4 bytes are ignored: they would mangle every
// message and protect nothing). When something was removed, the result keeps err's
// classification (Retryable, RetryAfter, Status, and errors.Is for
// context.Canceled and context.DeadlineExceeded) but not its chain, so
// nothing reachable with errors.As can leak what was removed. A top-level
// *PartialError stays one, with its Err cleaned. Redact returns err itself
// when there is nothing to clean, and nil for nil.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*PartialError); ok {
		inner := Redact(pe.Err, secrets...)
		if inner == pe.Err {
			return err
		}
		return &PartialError{Done: pe.Done, Failed: pe.Failed, Err: inner}
	}
	msg := err.Error()
	clean := msg
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		clean = strings.ReplaceAll(clean, ue.URL, RedactURL(ue.URL))
	}
	for _, s := range secrets {
		if len(s) >= 4 {
			clean = strings.ReplaceAll(clean, s, "[redacted]")
		}
	}
	if clean == msg && (ue == nil || RedactURL(ue.URL) == ue.URL) {
		return err
	}
	retry, after := Retryable(err)
	r := &redacted{msg: clean}
	for _, sentinel := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, sentinel) {
			r.cause = sentinel
		}
	}
	return &Error{Retryable: retry, RetryAfter: after, Status: statusOf(err), Err: r}
}

// redacted is an error message with the secrets taken out; it unwraps only
// to the context sentinel the original wrapped, if any.
type redacted struct {
	msg   string
	cause error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.cause }

// NoRedirects returns a copy of c (a new client when c is nil) that does not
// follow redirects: a 3xx comes back as the response. A receiver must not be
// able to send an action's body and connection headers to another host.
func NoRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}
