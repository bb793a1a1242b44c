package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldmail/herald/actions"
)

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config is a `slack` connection: WebhookURL, or Token (with an optional
// default Channel), not both.
type Config struct {
	// WebhookURL is an incoming webhook; it posts to its own channel.
	WebhookURL string
	// Token is a bot token for chat.postMessage.
	Token string
	// Channel is where token-mode messages go when the rule names none.
	Channel string
	// APIURL replaces https://slack.com/api/ (tests, staging).
	APIURL string
	// HTTPClient sends the requests; nil means a new http.Client. It is
	// copied, and the copy does not follow redirects.
	HTTPClient *http.Client
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Slack posts `slack` actions through one connection.
type Slack struct {
	webhook string
	api     *slack.Client // token mode
	channel string
	client  *http.Client
	timeout time.Duration
	secrets []string
}

var _ interface {
	Do(context.Context, string, map[string]any) error
} = (*Slack)(nil)

// New checks cfg and returns a Slack.
func New(cfg Config) (*Slack, error) {
	if (cfg.WebhookURL == "") == (cfg.Token == "") {
		return nil, errors.New("slack: want webhook_url or token, not both and not neither")
	}
	s := &Slack{
		webhook: cfg.WebhookURL,
		channel: cfg.Channel,
		client:  actions.NoRedirects(cfg.HTTPClient),
		timeout: cfg.Timeout,
		secrets: []string{cfg.Token},
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	next := s.client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	s.client.Transport = captureTransport{next: next}
	if cfg.WebhookURL != "" {
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("slack: webhook_url %s: want an http or https URL", actions.RedactURL(cfg.WebhookURL))
		}
		// The URL's path is the credential; an echo of any part is scrubbed.
		s.secrets = append(s.secrets, cfg.WebhookURL, u.EscapedPath(), u.Path)
		if i := strings.LastIndexByte(u.Path, '/'); i >= 0 {
			s.secrets = append(s.secrets, u.Path[i+1:])
		}
		return s, nil
	}
	api := cfg.APIURL
	if api == "" {
		api = slack.APIURL
	}
	if u, err := url.Parse(api); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack: api_url %s: want an http or https URL", actions.RedactURL(api))
	}
	if !strings.HasSuffix(api, "/") {
		api += "/" // slack-go appends the method name
	}
	s.api = slack.New(cfg.Token, slack.OptionAPIURL(api), slack.OptionHTTPClient(s.client))
	return s, nil
}

// Do posts the message described by params. Slack has no idempotency key,
// so id is not sent.
func (s *Slack) Do(ctx context.Context, id string, params map[string]any) error {
	m, err := parse(params)
	if err == nil {
		err = s.checkChannel(m)
	}
	if err != nil {
		return actions.Redact(actions.Permanent(fmt.Errorf("slack: %w", err)), s.secrets...)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	answer := &captured{}
	ctx = context.WithValue(ctx, captureKey{}, answer)
	if s.webhook != "" {
		err = slack.PostWebhookCustomHTTPContext(ctx, s.webhook, s.client, &slack.WebhookMessage{
			Text: m.text, Blocks: m.blocks, Username: m.username, IconEmoji: m.iconEmoji,
		})
	} else {
		_, _, err = s.api.PostMessageContext(ctx, m.channel, m.options()...)
	}
	if err == nil {
		return nil
	}
	return actions.Redact(classify(err, answer), s.secrets...)
}

// checkChannel picks the channel: webhooks post to their own, token mode
// needs one from the rule or the connection.
func (s *Slack) checkChannel(m *message) error {
	if s.webhook != "" {
		if m.channel != "" {
			return errors.New("channel: an incoming webhook posts to its own channel; use a token connection to choose one")
		}
		return nil
	}
	if m.channel == "" {
		m.channel = s.channel
	}
	if m.channel == "" {
		return errors.New("channel: the rule names none and the connection has no default")
	}
	return nil
}

// options are chat.postMessage's arguments. Text is not escaped again.
func (m *message) options() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(m.text, false)}
	if m.blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(m.blocks.BlockSet...))
	}
	if m.username != "" {
		opts = append(opts, slack.MsgOptionUsername(m.username))
	}
	if m.iconEmoji != "" {
		opts = append(opts, slack.MsgOptionIconEmoji(m.iconEmoji))
	}
	return opts
}
