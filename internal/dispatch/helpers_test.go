package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/actions/httpcall"
	"github.com/heraldmail/herald/actions/mailjet"
	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/pipeline"
	"github.com/heraldmail/herald/internal/streams"
)

var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// waitFor bounds every wait of a test: generous, for loaded machines; a
// passing test waits milliseconds.
const waitFor = 30 * time.Second

func openConn(t testing.TB) *streams.Conn {
	t.Helper()
	c, err := streams.Open(context.Background(), streams.Options{Data: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testOptions are fast options for tests: tiny back-offs, no jitter.
func testOptions(c *streams.Conn, runners map[string]Runner) Options {
	return Options{Conn: c, Runners: runners, BackoffBase: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		Logger: quiet, Rand: func(n int64) int64 { return n - 1 }}
}

// newDispatcher builds a Dispatcher without running it.
func newDispatcher(t testing.TB, opt Options) *Dispatcher {
	t.Helper()
	d, err := New(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs a Dispatcher until the test ends.
func start(t testing.TB, opt Options) *Dispatcher {
	t.Helper()
	d := newDispatcher(t, opt)
	run(t, d)
	return d
}

// run runs d until the test ends, or until the returned stop is called.
func run(t testing.TB, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(waitFor):
				t.Errorf("Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// enqueue publishes a job as the engine does, with msgID as its message id
// ("" for the job id). It reports whether JetStream dropped it as a
// duplicate.
func enqueue(t testing.TB, c *streams.Conn, j pipeline.Job, msgID string) bool {
	t.Helper()
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if msgID == "" {
		msgID = j.ID
	}
	hdr := nats.Header{}
	hdr.Set(pipeline.HeaderRule, j.Rule)
	hdr.Set(pipeline.HeaderPosition, j.Pos.String())
	_, dup, err := c.Actions().Publish(context.Background(), pipeline.SubjectPrefix+j.Rule, msgID, data, hdr)
	if err != nil {
		t.Fatal(err)
	}
	return dup
}

var nextSeq uint64

// job returns a job of rule "r" with the action given.
func job(id string, a engine.Action) pipeline.Job {
	nextSeq++
	return pipeline.Job{ID: id, FiringID: id, Rule: "r", At: t0, Action: a, Pos: pipeline.Position{Seq: nextSeq}}
}

func httpAction(path string) engine.Action {
	return engine.Action{Kind: "http", Connection: "crm",
		Params: params(map[string]any{"method": "POST", "path": path, "json": map[string]any{"n": 1}})}
}

func mailjetAction(to ...string) engine.Action {
	list := make([]any, len(to))
	for i, e := range to {
		list[i] = e
	}
	return engine.Action{Kind: "mailjet", Connection: "mailjet",
		Params: params(map[string]any{"to": list, "template_id": 4242})}
}

// params is an action's params as the engine renders them: a JSON object.
func params(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// param is one of a job's params.
func param(t *testing.T, j pipeline.Job, key string) any {
	t.Helper()
	m, err := j.Action.ParamsMap()
	if err != nil {
		t.Fatal(err)
	}
	return m[key]
}

// waitStatus waits, watching the status bucket, until job id has the
// status want, and returns it.
func waitStatus(t testing.TB, d *Dispatcher, id, want string) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	w, err := d.status.Watch(ctx, Key(id))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	last := "(none)"
	for {
		select {
		case e := <-w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var st Status
			if err := json.Unmarshal(e.Value(), &st); err != nil {
				t.Fatal(err)
			}
			if st.Status == want {
				return st
			}
			last = fmt.Sprintf("%+v", st)
		case <-ctx.Done():
			t.Fatalf("job %s: status %q not reached; last %s", id, want, last)
		}
	}
}

// endpoint is a scripted HTTP receiver. answer gives the status (and
// headers) of the nth request (from 1) to a path.
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	ok     map[string]int // 2xx answers by path
	bodies []string
	answer func(path string, n int, body string, h http.Header) (code int, out string)
}

func newEndpoint(t testing.TB, answer func(path string, n int, body string, h http.Header) (int, string)) *endpoint {
	e := &endpoint{counts: map[string]int{}, ok: map[string]int{}, answer: answer}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.counts[r.URL.Path]++
		n := e.counts[r.URL.Path]
		e.bodies = append(e.bodies, string(b))
		code, out := e.answer(r.URL.Path, n, string(b), w.Header())
		if code/100 == 2 {
			e.ok[r.URL.Path]++
		}
		e.mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, out)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) count(path string) (all, ok int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[path], e.ok[path]
}

func always(code int) func(string, int, string, http.Header) (int, string) {
	return func(string, int, string, http.Header) (int, string) { return code, "" }
}

func httpRunner(t testing.TB, url string) *httpcall.HTTPCall {
	t.Helper()
	r, err := httpcall.New(httpcall.Config{BaseURL: url, Headers: map[string]string{"Authorization": "Bearer s3cret-token"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mailjetRunner(t testing.TB, url string) *mailjet.Mailjet {
	t.Helper()
	r, err := mailjet.New(mailjet.Config{APIKey: "key", APISecret: "mj-s3cret", BaseURL: url,
		From: mailjet.Address{Email: "news@example.com"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeMailjet answers the Send API: recipients listed in fail get a
// per-message error with that status code, the others success (HTTP 400
// when any failed, as Mailjet does). sent counts successes by address.
type fakeMailjet struct {
	mu    sync.Mutex
	fail  map[string]int
	sent  map[string]int
	calls int
}

func (f *fakeMailjet) answer(_ string, _ int, body string, _ http.Header) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var req struct {
		Messages []struct {
			To []struct{ Email string }
		}
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		return 400, `{"StatusCode":400,"ErrorMessage":"bad json"}`
	}
	code := 200
	var res []string
	for i, m := range req.Messages {
		email := m.To[0].Email
		if c := f.fail[email]; c != 0 {
			code = 400
			res = append(res, `{"Status":"error","Errors":[{"ErrorIdentifier":"e`+strconv.Itoa(i)+`","ErrorCode":"mj-0013","StatusCode":`+strconv.Itoa(c)+`,"ErrorMessage":"rejected","ErrorRelatedTo":["To"]}]}`)
			continue
		}
		f.sent[email]++
		res = append(res, `{"Status":"success","To":[{"Email":"`+email+`","MessageUUID":"u","MessageID":576460765503091475}]}`)
	}
	out := `{"Messages":[`
	for i, r := range res {
		if i > 0 {
			out += ","
		}
		out += r
	}
	return code, out + "]}"
}

func (f *fakeMailjet) sentTo(email string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[email]
}

func (f *fakeMailjet) setFail(email string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code == 0 {
		delete(f.fail, email)
		return
	}
	f.fail[email] = code
}
