package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/actions"
	"github.com/heraldmail/herald/internal/config"
)

func TestBackoff(t *testing.T) {
	d := &Dispatcher{opt: Options{BackoffBase: time.Second, BackoffMax: 10 * time.Second,
		Rand: func(n int64) int64 { return n - 1 }}} // the top of the range
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {60, 10 * time.Second}} {
		if got := d.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	d.opt.Rand = func(int64) int64 { return 0 } // the bottom: full jitter reaches 0
	if got := d.backoff(3); got != 0 {
		t.Errorf("backoff with jitter 0 = %v", got)
	}
	if got := d.retryDelay(3, time.Minute); got != time.Minute {
		t.Errorf("retryDelay with Retry-After 1m = %v", got)
	}
	d.opt.Rand = func(n int64) int64 { return n - 1 }
	if got := d.retryDelay(4, time.Second); got != 8*time.Second {
		t.Errorf("retryDelay with a shorter Retry-After = %v, want the back-off", got)
	}
}

func TestClassify(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	failed := map[string]any{"to": []any{"b@x.com"}}
	tests := []struct {
		name      string
		ctx       context.Context
		err       error
		want      result
		after     time.Duration
		remaining map[string]any
	}{
		{"success", live, nil, delivered, 0, nil},
		{"retryable", live, actions.Retry(errors.New("HTTP 503"), 0), retry, 0, nil},
		{"retry-after", live, actions.Retry(errors.New("HTTP 429"), time.Minute), retry, time.Minute, nil},
		{"permanent", live, actions.Permanent(errors.New("HTTP 400")), permanent, 0, nil},
		{"network", live, &net.OpError{Op: "dial", Err: errors.New("refused")}, retry, 0, nil},
		{"timeout", live, fmt.Errorf("post: %w", context.DeadlineExceeded), retry, 0, nil},
		{"unknown", live, errors.New("boom"), permanent, 0, nil},
		{"shutdown", stopped, fmt.Errorf("post: %w", context.Canceled), interrupted, 0, nil},
		{"partial retry", live, &actions.PartialError{Done: 1, Failed: failed, Err: actions.Retry(errors.New("x"), 0)}, retry, 0, failed},
		{"partial permanent", live, &actions.PartialError{Done: 1, Failed: failed, Err: actions.Permanent(errors.New("x"))}, permanent, 0, failed},
		{"partial shutdown", stopped, &actions.PartialError{Done: 1, Failed: failed, Err: context.Canceled}, interrupted, 0, failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := classify(tt.ctx, tt.err)
			if o.result != tt.want || o.after != tt.after || !reflect.DeepEqual(o.remaining, tt.remaining) {
				t.Errorf("classify = %+v, want result %d after %v remaining %v", o, tt.want, tt.after, tt.remaining)
			}
		})
	}
}

func TestKey(t *testing.T) {
	for id, want := range map[string]string{
		"open-discount-00000000000000ff/0": "open-discount-00000000000000ff/0",
		"a.b c*>@":                         "a=2eb=20c=2a=3e=40",
		"x=y":                              "x=3dy",
	} {
		got := Key(id)
		if got != want {
			t.Errorf("Key(%q) = %q, want %q", id, got, want)
		}
		if !validKVKey(got) {
			t.Errorf("Key(%q) = %q is not a valid KV key", id, got)
		}
	}
}

func validKVKey(k string) bool {
	for _, c := range k {
		if !strings.ContainsRune("-/_=.", c) && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return k != "" && k[0] != '.' && k[len(k)-1] != '.'
}

type listSuppressions map[string]string

func (l listSuppressions) Check(_ context.Context, email string) (string, bool, error) {
	r, ok := l[strings.ToLower(email)]
	return r, ok, nil
}

func TestFilterSuppressed(t *testing.T) {
	s := listSuppressions{"gone@x.com": "unsub"}
	ctx := context.Background()
	tests := []struct {
		name    string
		to      any
		wantTo  any // nil: everyone suppressed
		dropped int
	}{
		{"single kept", "a@x.com", "a@x.com", 0},
		{"single dropped", "Gone <gone@x.com>", nil, 1},
		{"object dropped", map[string]any{"email": "GONE@x.com", "name": "G"}, nil, 1},
		{"list narrowed", []any{"a@x.com", "gone@x.com", map[string]any{"email": "b@x.com"}},
			[]any{"a@x.com", map[string]any{"email": "b@x.com"}}, 1},
		{"unreadable kept", []any{42}, []any{42}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := map[string]any{"to": tt.to, "template_id": 1}
			kept, dropped, err := filterSuppressed(ctx, s, params)
			if err != nil {
				t.Fatal(err)
			}
			if len(dropped) != tt.dropped {
				t.Errorf("dropped = %v", dropped)
			}
			if tt.wantTo == nil {
				if kept != nil {
					t.Errorf("kept = %v, want nil", kept)
				}
				return
			}
			if !reflect.DeepEqual(kept["to"], tt.wantTo) || kept["template_id"] != 1 {
				t.Errorf("kept = %#v, want to %#v", kept, tt.wantTo)
			}
			if !reflect.DeepEqual(params["to"], tt.to) {
				t.Errorf("params changed: %#v", params)
			}
		})
	}
}

func TestRunners(t *testing.T) {
	conns := map[string]*config.Connection{
		"mailjet": {Type: config.TypeMailjet, APIKey: "k", APISecret: "mj-s3cret", From: config.Address{Email: "news@example.com"},
			BaseURL: "https://api.mailjet.com"},
		"slack":  {Type: config.TypeSlack, WebhookURL: "https://hooks.slack.com/services/T/B/s3cret"},
		"crm":    {Type: config.TypeHTTP, BaseURL: "https://crm.example.com/api", Headers: map[string]config.Secret{"Authorization": "Bearer s3cret"}},
		"nokeys": {Type: config.TypeMailjet},
		"unset":  {Type: config.TypeSlack, MissingEnv: []string{"SLACK_WEBHOOK_URL"}},
		"empty":  nil,
	}
	rs, warnings, err := Runners(conns, false, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for name, dry := range map[string]bool{"mailjet": false, "slack": false, "crm": false, "nokeys": true, "unset": true, "empty": true} {
		_, isDry := rs[name].(DryRunner)
		if rs[name] == nil || isDry != dry {
			t.Errorf("%s: runner %T, want dry %v", name, rs[name], dry)
		}
	}
	if len(warnings) != 3 || !strings.Contains(strings.Join(warnings, "\n"), "SLACK_WEBHOOK_URL") {
		t.Errorf("warnings = %q", warnings)
	}

	rs, warnings, err = Runners(conns, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range rs {
		if _, ok := r.(DryRunner); !ok {
			t.Errorf("--dry-run: %s runs %T", name, r)
		}
	}
	if len(warnings) != 1 {
		t.Errorf("--dry-run warnings = %q, want one", warnings)
	}

	bad := map[string]*config.Connection{
		"mj": {Type: config.TypeMailjet, APIKey: "k", APISecret: "mj-s3cret"}, // no from
		"crm": {Type: config.TypeHTTP, BaseURL: "ftp://user:pw-s3cret@crm.example.com",
			Headers: map[string]config.Secret{"Authorization": "Bearer s3cret"}},
	}
	_, _, err = Runners(bad, false, quiet)
	if err == nil || !strings.Contains(err.Error(), `"mj"`) || !strings.Contains(err.Error(), `"crm"`) {
		t.Fatalf("err = %v, want both connections named", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows a secret: %v", err)
	}
}

// A job queued again from dead letters carries the newest position of the
// queue, not its own: the engine's restart fence must not move back.
func TestRetryKeepsRestartFence(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(400))
	d := start(t, testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)}))
	early := job("r-20/0", httpAction("/fails"))
	enqueue(t, c, early, "")
	waitStatus(t, d, "r-20/0", StatusDead)
	later := job("r-21/0", httpAction("/fails"))
	later.Pos.Seq += 100
	enqueue(t, c, later, "")
	waitStatus(t, d, "r-21/0", StatusDead)

	if err := d.Retry(context.Background(), "r-20/0"); err != nil {
		t.Fatal(err)
	}
	s := c.Actions().Stream()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := msg.Header.Get("Herald-Pos"), later.Pos.String(); got != want {
		t.Errorf("requeued job position = %q, want the newest, %q", got, want)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != "r-20/0#r1" {
		t.Errorf("message id = %q", got)
	}
	st := waitStatus(t, d, "r-20/0", StatusDead)
	if st.Requeues != 1 || st.Attempts != 1 {
		t.Errorf("status = %+v, want dead again after 1 attempt of requeue 1", st)
	}
}

// Stopping the dispatcher mid-attempt is not a failure: the job is
// delivered again by the next dispatcher, and the cut attempt is not
// counted.
func TestShutdownLeavesJobForRedelivery(t *testing.T) {
	c := openConn(t)
	started := make(chan struct{})
	var calls atomic.Int32
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client gone only once the body is read.
		_, _ = io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			close(started)
			<-r.Context().Done() // the first attempt hangs until cancelled
		}
	}))
	defer ep.Close()
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	opt.Grace = time.Millisecond
	d1 := newDispatcher(t, opt)
	stop := run(t, d1)
	enqueue(t, c, job("r-22/0", httpAction("/slow")), "")
	select {
	case <-started:
	case <-time.After(waitFor):
		t.Fatal("the attempt did not start")
	}
	stop()
	if st, found, _ := d1.getStatus(context.Background(), "r-22/0"); found {
		t.Errorf("status after shutdown = %+v, want none", st)
	}
	d2 := start(t, opt)
	st := waitStatus(t, d2, "r-22/0", StatusSent)
	if st.Attempts != 1 || calls.Load() != 2 {
		t.Errorf("attempts = %d, requests %d; want 1 attempt counted of 2 requests", st.Attempts, calls.Load())
	}
}

func TestConsumerConfig(t *testing.T) {
	opt := testOptions(openConn(t), nil)
	opt.Timeout = 45 * time.Second
	d := newDispatcher(t, opt)
	cons, err := d.consumer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	if cfg.Durable != DefaultConsumer || cfg.AckPolicy != jetstream.AckExplicitPolicy ||
		cfg.AckWait != 75*time.Second || cfg.MaxAckPending != DefaultMaxAckPending || cfg.MaxDeliver != -1 {
		t.Errorf("consumer config = %+v", cfg)
	}
}

// Two dispatchers (replicas) share the durable consumer: each job is run
// once.
func TestReplicasShareWork(t *testing.T) {
	c := openConn(t)
	ep := newEndpoint(t, always(200))
	opt := testOptions(c, map[string]Runner{"crm": httpRunner(t, ep.URL)})
	d1 := start(t, opt)
	start(t, opt)
	const n = 40
	for i := range n {
		enqueue(t, c, job(fmt.Sprintf("r-40/%d", i), httpAction(fmt.Sprintf("/job/%d", i))), "")
	}
	for i := range n {
		waitStatus(t, d1, fmt.Sprintf("r-40/%d", i), StatusSent)
	}
	for i := range n {
		if all, _ := ep.count(fmt.Sprintf("/job/%d", i)); all != 1 {
			t.Errorf("job %d delivered %d times", i, all)
		}
	}
}
