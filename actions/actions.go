package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// MaxExcerpt bounds the part of a response body quoted in an error message.
const MaxExcerpt = 512

// Error is a classified delivery failure. Retryable says whether the same
// action may succeed later; RetryAfter, when not zero, is the delay the
// receiver asked for. Status is the HTTP status that caused it, or 0.
// Its message never includes secrets or credentialed URLs: the action kinds
// build it from redacted parts.
type Error struct {
	Retryable  bool
	RetryAfter time.Duration
	Status     int
	Err        error
}

func (e *Error) Error() string {
	if e.Err == nil {
		if e.Status != 0 {
			return fmt.Sprintf("HTTP %d", e.Status)
		}
		return "delivery failed"
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent classifies err as a failure that retrying will not fix. It keeps
// the HTTP status of an *Error inside err. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Status: statusOf(err), Err: err}
}

// Retry classifies err as a failure that may succeed later, after the given
// delay (0: the dispatcher's back-off decides). Retry(nil, …) is nil.
func Retry(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &Error{Retryable: true, RetryAfter: max(after, 0), Status: statusOf(err), Err: err}
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Retryable reports whether the action that returned err may succeed if it
// is run again, and after how long the receiver asked to wait (0 when it did
// not say). An *Error in err's chain decides. Otherwise network errors,
// timeouts and deadlines are retryable, and the caller's own cancellation
// (context.Canceled) and anything unknown are not.
func Retryable(err error) (retry bool, after time.Duration) {
	if err == nil {
		return false, 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable, e.RetryAfter
	}
	if errors.Is(err, context.Canceled) {
		return false, 0
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true, 0
	}
	// *url.Error, *net.OpError and *net.DNSError are all net.Errors: the
	// request did not get an answer, which is worth another try.
	var ne net.Error
	if errors.As(err, &ne) {
		return true, 0
	}
	for _, target := range []error{io.ErrUnexpectedEOF, io.EOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true, 0
		}
	}
	return false, 0
}

// FromResponse classifies an HTTP response whose body (or its first bytes)
// has been read: 2xx is nil; 408, 429 and 5xx are retryable, honouring a
// Retry-After header given in seconds or as an HTTP date (relative to the
// response's Date header when it has one, else to the local clock); any
// other status, redirects included, is permanent. The message names the
// status and quotes at most MaxExcerpt bytes of the body, never the URL.
func FromResponse(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	msg := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	if ex := Excerpt(body); ex != "" {
		msg += ": " + ex
	}
	err := &Error{Status: code, Err: errors.New(msg)}
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
		err.Retryable = true
		err.RetryAfter = RetryAfter(resp.Header, time.Now())
	}
	return err
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date.
// A date is measured from the header's Date when present (the receiver's
// clock, immune to skew), else from now. Absent, malformed or past: 0.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Cap absurd values before they overflow a Duration.
		return time.Duration(min(secs, 366*24*3600)) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return max(at.Sub(now), 0)
}

// Excerpt returns the start of a response body for an error message: valid
// UTF-8 on one line, at most MaxExcerpt bytes, "…" when cut.
func Excerpt(body []byte) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= MaxExcerpt {
		return s
	}
	cut := MaxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// PartialError says an action was delivered in part: Done units (messages,
// recipients) went through and the rest failed with Err. Failed is a copy of
// the action's params narrowed to what failed (e.g. `to` lists only the failed
// recipients): retry or dead-letter Failed, never the original params. Err
// carries the classification (an *Error), so Retryable works on a
// *PartialError as on any error.
type PartialError struct {
	Done   int
	Failed map[string]any
	Err    error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("partly delivered (%d done): %v", e.Done, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }
