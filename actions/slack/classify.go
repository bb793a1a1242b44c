package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/slack-go/slack"

	"github.com/heraldmail/herald/actions"
)

// transientAPIErrors are Web API error codes worth another try; every other
// code (channel_not_found, not_in_channel, invalid_auth, …) is permanent.
var transientAPIErrors = []string{
	"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org",
}

// captured is the HTTP answer to one Do. slack-go keeps only the status of
// a non-2xx answer (and fails on a Retry-After given as a date); the
// transport below records the status, headers and the start of the body
// so the answer can be classified like any other.
type captured struct {
	status int
	header http.Header
	body   []byte
}

type captureKey struct{}

// captureTransport fills the *captured found in the request's context.
type captureTransport struct{ next http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	c, _ := req.Context().Value(captureKey{}).(*captured)
	if err != nil || c == nil {
		return resp, err
	}
	c.status, c.header = resp.StatusCode, resp.Header.Clone()
	if resp.StatusCode/100 != 2 {
		c.body, _ = io.ReadAll(io.LimitReader(resp.Body, 2*actions.MaxExcerpt))
		// Hand slack-go the whole body, as if nothing had been read.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(c.body), resp.Body), resp.Body}
	}
	return resp, nil
}

// classify turns what slack-go returned into a classified error. The HTTP
// answer decides when it was not a 2xx; then slack-go's own errors.
func classify(err error, answer *captured) error {
	if answer.status != 0 && answer.status/100 != 2 {
		resp := &http.Response{StatusCode: answer.status, Header: answer.header}
		return fmt.Errorf("slack: %w", actions.FromResponse(resp, answer.body))
	}
	var rate *slack.RateLimitedError
	var status slack.StatusCodeError
	var api slack.SlackErrorResponse
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &rate):
		return actions.Retry(fmt.Errorf("slack: %w", err), rate.RetryAfter)
	case errors.As(err, &status):
		return &actions.Error{
			Retryable: status.Code == http.StatusTooManyRequests || status.Code >= 500,
			Status:    status.Code,
			Err:       fmt.Errorf("slack: %w", err),
		}
	case errors.As(err, &api):
		if slices.Contains(transientAPIErrors, api.Err) {
			return actions.Retry(fmt.Errorf("slack: chat.postMessage: %w", err), 0)
		}
		return actions.Permanent(fmt.Errorf("slack: chat.postMessage: %w", err))
	case errors.As(err, &syntax), errors.As(err, &typ):
		return actions.Permanent(fmt.Errorf("slack: the answer is not Slack's JSON (a proxy?): %w", err))
	}
	// Transport errors: Retryable judges them (network, timeout: retry;
	// the caller's cancellation: not).
	return fmt.Errorf("slack: %w", actions.Redact(err))
}
