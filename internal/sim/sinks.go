package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths of the sinks: Slack incoming webhooks live under /services/,
// Mailjet's Send API v3.1 at /v3.1/send, and every other path is the CRM.
const (
	SlackWebhookPath = "/services/T0SIM0000/B0SIM0000/simsimsimsimsimsimsimsim"
	MailjetSendPath  = "/v3.1/send"
	CRMPath          = "/crm"
)

// SinkOptions configure the fake endpoints.
type SinkOptions struct {
	// FailRate is the share of calls answered Status (default 500)
	// instead of success.
	FailRate float64
	Status   int
	// Latency delays every answer.
	Latency time.Duration
	// Seed draws which calls fail.
	Seed uint64
	// Out, when set, gets one line per call.
	Out io.Writer
	// OnCall, when set, is called with each call once answered.
	OnCall func(Call)
	// Now is the clock of Call.At (default time.Now).
	Now func() time.Time
}

// Call is one request a sink answered.
type Call struct {
	At     time.Time // when it arrived
	Kind   string    // "slack", "mailjet" or "crm"
	Method string
	Path   string // as it arrived, escaped
	Status int
	Failed bool // an injected failure
	// IdempotencyKey is the request's Idempotency-Key header.
	IdempotencyKey string
	// Text is a Slack message's text.
	Text string
	// Messages are a Mailjet call's messages.
	Messages []MailjetMessage
	// Body is a CRM call's body.
	Body string
}

// MailjetMessage is the part of a Send API v3.1 message the sink shows.
type MailjetMessage struct {
	To         []struct{ Email, Name string } `json:"To"`
	TemplateID int64                          `json:"TemplateID"`
	Subject    string                         `json:"Subject"`
	Variables  json.RawMessage                `json:"Variables"`
	CustomID   string                         `json:"CustomID"`
}

// Sinks serves fake Slack, Mailjet Send and CRM endpoints on one address.
type Sinks struct {
	opt    SinkOptions
	mu     sync.Mutex
	r      *rand.Rand
	nextID int64
	counts map[string]int
	failed int
}

// NewSinks returns the sinks; serve them with an http.Server.
func NewSinks(opt SinkOptions) *Sinks {
	if opt.Status == 0 {
		opt.Status = http.StatusInternalServerError
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Sinks{opt: opt, r: rand.New(rand.NewPCG(opt.Seed, 0x51a4)), nextID: baseMessageID + 1<<52,
		counts: map[string]int{}}
}

// Connections returns the herald.yaml connections that point at sinks
// served at base (e.g. http://127.0.0.1:9000).
func Connections(base string) string {
	base = strings.TrimSuffix(base, "/")
	return fmt.Sprintf(`connections:
  slack:   {type: slack, webhook_url: "%s%s"}
  mailjet: {type: mailjet, api_key: sim, api_secret: sim, base_url: "%s",
            from: {email: news@example.com, name: Example}}
  crm:     {type: http, base_url: "%s%s"}
`, base, SlackWebhookPath, base, base, CRMPath)
}

// Summary says how many calls each kind received and how many failed.
func (s *Sinks) Summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("sinks: slack %d, mailjet %d, crm %d calls; %d failures injected",
		s.counts["slack"], s.counts["mailjet"], s.counts["crm"], s.failed)
}

func (s *Sinks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := Call{At: s.opt.Now(), Method: r.Method, Path: r.URL.EscapedPath(), IdempotencyKey: r.Header.Get("Idempotency-Key")}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	if !s.wait(r.Context()) {
		return
	}
	c.Failed = s.fail()
	switch {
	case strings.HasPrefix(r.URL.Path, "/services/"):
		c.Kind = "slack"
		c.Status = s.slack(w, r, body, &c)
	case r.URL.Path == MailjetSendPath:
		c.Kind = "mailjet"
		c.Status = s.mailjet(w, r, body, &c)
	default:
		c.Kind = "crm"
		c.Body = string(body)
		c.Status = s.crm(w, &c)
	}
	s.record(c)
}

// wait holds the answer for the configured latency; false when the client
// went away meanwhile.
func (s *Sinks) wait(ctx context.Context) bool {
	if s.opt.Latency <= 0 {
		return true
	}
	t := time.NewTimer(s.opt.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail draws whether this call gets an injected failure.
func (s *Sinks) fail() bool {
	if s.opt.FailRate <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Float64() < s.opt.FailRate
}

func (s *Sinks) record(c Call) {
	s.mu.Lock()
	s.counts[c.Kind]++
	if c.Failed {
		s.failed++
	}
	if s.opt.Out != nil {
		fmt.Fprintln(s.opt.Out, c.line())
	}
	s.mu.Unlock()
	if s.opt.OnCall != nil {
		s.opt.OnCall(c)
	}
}

// line is what the sinks print for a call.
func (c *Call) line() string {
	status := strconv.Itoa(c.Status)
	if c.Failed {
		status += " (injected)"
	}
	b := fmt.Appendf(nil, "%s %-7s %s ", c.At.Format("15:04:05.000"), c.Kind, status)
	switch c.Kind {
	case "slack":
		b = strconv.AppendQuote(b, c.Text)
	case "mailjet":
		for i, m := range c.Messages {
			if i > 0 {
				b = append(b, " | "...)
			}
			b = append(b, "to="...)
			for j, to := range m.To {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, to.Email...)
			}
			if m.TemplateID != 0 {
				b = fmt.Appendf(b, " template=%d", m.TemplateID)
			}
			if m.Subject != "" {
				b = fmt.Appendf(b, " subject=%q", m.Subject)
			}
			if len(m.Variables) > 0 {
				b = fmt.Appendf(b, " variables=%s", m.Variables)
			}
			b = fmt.Appendf(b, " custom_id=%s", m.CustomID)
		}
	default:
		b = fmt.Appendf(b, "%s %s", c.Method, c.Path)
		if c.IdempotencyKey != "" {
			b = fmt.Appendf(b, " idempotency-key=%s", c.IdempotencyKey)
		}
		if c.Body != "" {
			b = append(b, ' ')
			b = append(b, excerpt(c.Body, 200)...)
		}
	}
	return string(b)
}

func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
