package sim

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldmail/herald/actions"
	"github.com/heraldmail/herald/actions/httpcall"
	"github.com/heraldmail/herald/actions/mailjet"
	"github.com/heraldmail/herald/actions/slack"
	"github.com/heraldmail/herald/internal/config"
)

// sinkServer serves sinks with opt and returns the calls they record.
func sinkServer(t *testing.T, opt SinkOptions) (*httptest.Server, *[]Call, *bytes.Buffer) {
	t.Helper()
	var mu sync.Mutex
	var calls []Call
	var out bytes.Buffer
	opt.OnCall = func(c Call) { mu.Lock(); calls = append(calls, c); mu.Unlock() }
	opt.Out = &out
	srv := httptest.NewServer(NewSinks(opt))
	t.Cleanup(srv.Close)
	return srv, &calls, &out
}

type clients struct {
	mailjet *mailjet.Mailjet
	slack   *slack.Slack
	crm     *httpcall.HTTPCall
}

func newClients(t *testing.T, base string, timeout time.Duration) clients {
	t.Helper()
	mj, err := mailjet.New(mailjet.Config{APIKey: "k", APISecret: "s", From: mailjet.Address{Email: "news@example.com"},
		BaseURL: base, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{WebhookURL: base + SlackWebhookPath, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	crm, err := httpcall.New(httpcall.Config{BaseURL: base + CRMPath, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return clients{mj, sl, crm}
}

var (
	mailjetAction = map[string]any{"to": "anna@example.org", "template_id": 4242, "variables": map[string]any{"code": "OPEN24"}}
	slackAction   = map[string]any{"text": "72% of mail to gmail.com blocked"}
	crmAction     = map[string]any{"method": "POST", "path": "/contacts/anna%40example.org/unsubscribe", "json": map[string]any{"reason": "unsub"}}
)

// Without failures, herald's own clients succeed against the sinks, and
// the sinks record and print what arrived.
func TestSinksAccept(t *testing.T) {
	srv, calls, out := sinkServer(t, SinkOptions{})
	c := newClients(t, srv.URL, 5*time.Second)
	ctx := context.Background()
	for _, err := range []error{
		c.mailjet.Do(ctx, "open-discount-1/0", mailjetAction),
		c.slack.Do(ctx, "blocked-spike-1/0", slackAction),
		c.crm.Do(ctx, "crm-unsubscribe-1/0", crmAction),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(*calls) != 3 {
		t.Fatalf("%d calls", len(*calls))
	}
	mj, sl, crm := (*calls)[0], (*calls)[1], (*calls)[2]
	if mj.Kind != "mailjet" || len(mj.Messages) != 1 || mj.Messages[0].To[0].Email != "anna@example.org" ||
		mj.Messages[0].TemplateID != 4242 || mj.Messages[0].CustomID != "open-discount-1/0" {
		t.Errorf("mailjet call: %+v", mj)
	}
	if sl.Kind != "slack" || sl.Text != "72% of mail to gmail.com blocked" {
		t.Errorf("slack call: %+v", sl)
	}
	if crm.Kind != "crm" || crm.Path != "/crm/contacts/anna%40example.org/unsubscribe" ||
		crm.IdempotencyKey != "crm-unsubscribe-1/0" || !strings.Contains(crm.Body, `"reason":"unsub"`) {
		t.Errorf("crm call: %+v", crm)
	}
	for _, want := range []string{
		`mailjet 200 to=anna@example.org template=4242 variables={"code":"OPEN24"} custom_id=open-discount-1/0`,
		`slack   200 "72% of mail to gmail.com blocked"`,
		`crm     200 POST /crm/contacts/anna%40example.org/unsubscribe idempotency-key=crm-unsubscribe-1/0 {"reason":"unsub"}`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Injected failures reach herald's clients as the real services' would:
// 429 and 5xx are retryable (Slack's and the CRM's 429 with Retry-After,
// Mailjet's without), a Mailjet 400 fails its messages for good, and a
// latency beyond the client's timeout is a retryable timeout.
func TestSinksInjectFailures(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		status     int
		retry      bool
		retryAfter time.Duration // Slack and CRM; Mailjet sends none
	}{
		{http.StatusTooManyRequests, true, time.Second},
		{http.StatusInternalServerError, true, 0},
		{http.StatusBadGateway, true, 0},
		{http.StatusBadRequest, false, 0},
	} {
		srv, calls, out := sinkServer(t, SinkOptions{FailRate: 1, Status: tt.status})
		c := newClients(t, srv.URL, 5*time.Second)
		check := func(kind string, err error, after time.Duration) {
			t.Helper()
			retry, gotAfter := actions.Retryable(err)
			if err == nil || retry != tt.retry || gotAfter != after {
				t.Errorf("%d from the %s sink: err %v, retryable %v after %s; want %v after %s",
					tt.status, kind, err, retry, gotAfter, tt.retry, after)
			}
		}
		check("mailjet", c.mailjet.Do(ctx, "f/0", mailjetAction), 0)
		check("slack", c.slack.Do(ctx, "f/0", slackAction), tt.retryAfter)
		check("crm", c.crm.Do(ctx, "f/0", crmAction), tt.retryAfter)
		for _, call := range *calls {
			if !call.Failed || call.Status != tt.status {
				t.Errorf("%d: call %+v", tt.status, call)
			}
		}
		if !strings.Contains(out.String(), " (injected)") {
			t.Errorf("output does not say the failure was injected:\n%s", out.String())
		}
	}

	srv, calls, _ := sinkServer(t, SinkOptions{Latency: 300 * time.Millisecond})
	c := newClients(t, srv.URL, 50*time.Millisecond)
	err := c.crm.Do(ctx, "slow/0", crmAction)
	if retry, _ := actions.Retryable(err); err == nil || !retry {
		t.Errorf("a call slower than the client's timeout: %v, retryable %v", err, retry)
	}
	c = newClients(t, srv.URL, 5*time.Second)
	start := time.Now()
	if err := c.slack.Do(ctx, "slow/1", slackAction); err != nil || time.Since(start) < 300*time.Millisecond {
		t.Errorf("latency 300ms: %v after %s", err, time.Since(start))
	}
	if n := len(*calls); n != 1 {
		t.Errorf("%d calls recorded; the abandoned one is not a call", n)
	}
}

// A fail rate fails about that share of calls, the same ones for a seed.
func TestSinksFailRate(t *testing.T) {
	failures := func(seed uint64) (n int, pattern string) {
		srv, _, _ := sinkServer(t, SinkOptions{FailRate: 0.3, Status: http.StatusServiceUnavailable, Seed: seed})
		c := newClients(t, srv.URL, 5*time.Second)
		var b strings.Builder
		for range 300 {
			err := c.crm.Do(context.Background(), "x/0", crmAction)
			var ae *actions.Error
			switch {
			case err == nil:
				b.WriteByte('.')
			case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
				n++
				b.WriteByte('x')
			default:
				t.Fatal(err)
			}
		}
		return n, b.String()
	}
	n, p1 := failures(1)
	if n < 60 || n > 120 {
		t.Errorf("fail rate 0.3: %d of 300 calls failed", n)
	}
	if _, p2 := failures(1); p1 != p2 {
		t.Error("the same seed failed other calls")
	}
}

// Connections is a herald.yaml snippet naming the sinks' paths, and
// herald's configuration loads it with every connection configured.
func TestConnections(t *testing.T) {
	got := Connections("http://127.0.0.1:9000/")
	path := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, name := range []string{"slack", "mailjet", "crm"} {
		if c := cfg.Connections[name]; !c.Configured() {
			t.Errorf("connection %s: %v", name, c)
		}
	}
	for _, want := range []string{"connections:", `webhook_url: "http://127.0.0.1:9000/services/`,
		`base_url: "http://127.0.0.1:9000"`, `base_url: "http://127.0.0.1:9000/crm"`} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
}
