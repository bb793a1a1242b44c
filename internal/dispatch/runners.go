package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldmail/herald/actions/httpcall"
	"github.com/heraldmail/herald/actions/mailjet"
	"github.com/heraldmail/herald/actions/slack"
	"github.com/heraldmail/herald/internal/config"
)

// DryRunner stands for a connection whose actions are logged as they would
// be sent instead of run: it is not configured, or herald runs with
// --dry-run. The Dispatcher never calls its Do.
type DryRunner struct {
	// Reason is logged with each dry-run line.
	Reason string
}

// Do does nothing.
func (DryRunner) Do(context.Context, string, map[string]any) error { return nil }

var (
	_ Runner = (*mailjet.Mailjet)(nil)
	_ Runner = (*slack.Slack)(nil)
	_ Runner = (*httpcall.HTTPCall)(nil)
	_ Runner = DryRunner{}
)

// Runners builds the action client of each connection of herald.yaml. A
// connection that is not configured (config.Connection.Configured), and
// every connection when dryRun, gets a DryRunner; warnings say which, for
// the log at start. A configured connection whose client cannot be built is
// an error (all of them, joined). Secrets go to the clients only: neither
// warnings nor errors hold them.
func Runners(conns map[string]*config.Connection, dryRun bool, logger *slog.Logger) (map[string]Runner, []string, error) {
	if logger == nil {
		logger = slog.Default()
	}
	out := make(map[string]Runner, len(conns))
	var warnings []string
	var errs []error
	if dryRun {
		warnings = append(warnings, "--dry-run: every action is logged as it would be sent, none is run")
	}
	// One connection pool for every client, keeping enough idle
	// connections per host for the dispatcher's concurrency (net/http's
	// default keeps 2, so most calls would open a new connection).
	client := &http.Client{Transport: pooledTransport()}
	for _, name := range slices.Sorted(maps.Keys(conns)) {
		c := conns[name]
		switch {
		case dryRun:
			out[name] = DryRunner{Reason: "--dry-run"}
			continue
		case !c.Configured():
			out[name] = DryRunner{Reason: "connection not configured"}
			warnings = append(warnings, notConfigured(name, c))
			continue
		}
		r, err := newRunner(c, client, logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("connection %q: %w", name, err))
			continue
		}
		out[name] = r
	}
	return out, warnings, errors.Join(errs...)
}

func notConfigured(name string, c *config.Connection) string {
	if c == nil {
		return fmt.Sprintf("connection %q is empty: its actions are logged as they would be sent (dry-run)", name)
	}
	msg := fmt.Sprintf("connection %q (%s) is not configured: its actions are logged as they would be sent (dry-run)", name, c.Type)
	if len(c.MissingEnv) > 0 {
		msg += "; unset environment variables: " + strings.Join(c.MissingEnv, ", ")
	}
	return msg
}

// newRunner builds the client of one configured connection.
func newRunner(c *config.Connection, client *http.Client, logger *slog.Logger) (Runner, error) {
	switch c.Type {
	case config.TypeSlack:
		return slack.New(slack.Config{WebhookURL: c.WebhookURL.Value(), Token: c.Token.Value(),
			Channel: c.Channel, APIURL: c.APIURL, HTTPClient: client})
	case config.TypeMailjet:
		return mailjet.New(mailjet.Config{APIKey: c.APIKey.Value(), APISecret: c.APISecret.Value(),
			From: mailjet.Address{Email: c.From.Email, Name: c.From.Name}, BaseURL: c.BaseURL,
			Sandbox: c.Sandbox, HTTPClient: client, Logger: logger})
	case config.TypeHTTP:
		headers := make(map[string]string, len(c.Headers))
		for k, v := range c.Headers {
			headers[k] = v.Value()
		}
		timeout := c.Timeout.D()
		if timeout <= 0 {
			timeout = config.DefaultHTTPCallTimeout
		}
		return httpcall.New(httpcall.Config{BaseURL: c.BaseURL, Headers: headers,
			SigningSecret: c.SigningSecret.Value(), Timeout: timeout, HTTPClient: client})
	}
	return nil, fmt.Errorf("unknown connection type %q", c.Type)
}

// pooledTransport is net/http's default transport keeping up to 64 idle
// connections per host.
func pooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}
