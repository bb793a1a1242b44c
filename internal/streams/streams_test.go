package streams

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var quiet = slog.New(slog.DiscardHandler)

// open starts an embedded Conn on dir (a new temp dir when "").
func open(t testing.TB, o Options) *Conn {
	t.Helper()
	if o.Data == "" {
		o.Data = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	c, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// appendAll appends events (body != "") and ticks (body == "") at t0+i s.
func appendAll(t testing.TB, l *Log, bodies ...string) {
	t.Helper()
	ctx := context.Background()
	for i, b := range bodies {
		at := t0.Add(time.Duration(i) * time.Second)
		var err error
		if b == "" {
			_, err = l.AppendTick(ctx, at)
		} else {
			_, err = l.Append(ctx, []byte(b), at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// errDone stops a Read once it has what it needs.
var errDone = errors.New("done")

// readN reads n records from from.
func readN(t testing.TB, l *Log, from uint64, n int) []Record {
	t.Helper()
	return readWithin(t, l, from, n, 10*time.Second)
}

// readWithin is readN with its own time limit: after a cluster fail-over an
// ordered consumer may first wait out a missed heartbeat and start again.
func readWithin(t testing.TB, l *Log, from uint64, n int, limit time.Duration) []Record {
	t.Helper()
	var got []Record
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	err := l.Read(ctx, from, func(r Record) error {
		got = append(got, r)
		if len(got) == n {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Read: %v after %d records", err, len(got))
	}
	return got
}

func describe(recs []Record) string {
	var b bytes.Buffer
	for _, r := range recs {
		if r.Tick {
			fmt.Fprintf(&b, "%d:tick@%d ", r.Seq, r.Received.Sub(t0)/time.Second)
		} else {
			fmt.Fprintf(&b, "%d:%s@%d ", r.Seq, r.Body, r.Received.Sub(t0)/time.Second)
		}
	}
	return b.String()
}

func TestAppendAndRead(t *testing.T) {
	c := open(t, Options{})
	appendAll(t, c.Log(), "a", "", "b", "", "c")
	got := describe(readN(t, c.Log(), 0, 5))
	if want := "1:a@0 2:tick@1 3:b@2 4:tick@3 5:c@4 "; got != want {
		t.Errorf("Read(0) = %s, want %s", got, want)
	}
	got = describe(readN(t, c.Log(), 3, 3))
	if want := "3:b@2 4:tick@3 5:c@4 "; got != want {
		t.Errorf("Read(3) = %s, want %s", got, want)
	}
}

func TestAppendReturnsSequence(t *testing.T) {
	c := open(t, Options{})
	for want := uint64(1); want <= 3; want++ {
		seq, err := c.Log().Append(context.Background(), []byte("x"), t0)
		if err != nil || seq != want {
			t.Fatalf("Append = %d, %v; want %d", seq, err, want)
		}
	}
}

func TestLast(t *testing.T) {
	c := open(t, Options{})
	l := c.Log()
	var last []string
	collect := func(n, stopAfter int) string {
		t.Helper()
		var got []Record
		err := l.Last(context.Background(), n, func(r Record) bool {
			got = append(got, r)
			return len(got) != stopAfter
		})
		if err != nil {
			t.Fatal(err)
		}
		return describe(got)
	}
	if got := collect(10, 0); got != "" {
		t.Errorf("Last on an empty log = %s", got)
	}
	bodies := []string{"a", "", "b"}
	for range 500 { // many ticks between two events: Last skips them without walking
		bodies = append(bodies, "")
	}
	bodies = append(bodies, "c", "")
	appendAll(t, l, bodies...)
	_ = last
	tests := []struct {
		n, stopAfter int
		want         string
	}{
		{0, 0, "504:c@503 3:b@2 1:a@0 "},
		{2, 0, "504:c@503 3:b@2 "},
		{10, 1, "504:c@503 "},
	}
	for _, tt := range tests {
		if got := collect(tt.n, tt.stopAfter); got != tt.want {
			t.Errorf("Last(n=%d, stop after %d) = %s, want %s", tt.n, tt.stopAfter, got, tt.want)
		}
	}
}

func TestReadFollowsAppends(t *testing.T) {
	c := open(t, Options{})
	l := c.Log()
	appendAll(t, l, "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	recs := make(chan Record)
	done := make(chan error, 1)
	go func() {
		done <- l.Read(ctx, 1, func(r Record) error {
			recs <- r
			return nil
		})
	}()
	if r := <-recs; r.Seq != 1 {
		t.Fatalf("first record %d, want 1", r.Seq)
	}
	// Read is now following: each append reaches it.
	for i, b := range []string{"b", "c"} {
		if _, err := l.Append(ctx, []byte(b), t0); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-recs:
			if r.Seq != uint64(i+2) || string(r.Body) != b {
				t.Errorf("got %d:%s, want %d:%s", r.Seq, r.Body, i+2, b)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Read did not deliver a new append")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Read returned %v, want context.Canceled", err)
	}
}

func TestReadGap(t *testing.T) {
	c := open(t, Options{})
	l := c.Log()
	appendAll(t, l, "a", "b", "c", "d")
	ctx := context.Background()
	if err := l.Stream().DeleteMsg(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Stream().DeleteMsg(ctx, 3); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from uint64
		want string
	}{
		{0, "event log gap: expected record 3, next in log is 4"},
		{1, "event log gap: expected record 1, next in log is 2"},
		{2, "event log gap: expected record 3, next in log is 4"},
	}
	for _, tt := range tests {
		err := l.Read(ctx, tt.from, func(Record) error { return nil })
		if !errors.Is(err, ErrGap) || err.Error() != tt.want {
			t.Errorf("Read(%d) = %v, want %q", tt.from, err, tt.want)
		}
	}
}

func TestReopenKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(context.Background(), Options{Data: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, c.Log(), "a", "", "b")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Data: dir})
	seq, err := c.Log().Append(context.Background(), []byte("c"), t0.Add(time.Hour))
	if err != nil || seq != 4 {
		t.Fatalf("Append after reopen = %d, %v; want 4", seq, err)
	}
	if got, want := describe(readN(t, c.Log(), 0, 4)), "1:a@0 2:tick@1 3:b@2 4:c@3600 "; got != want {
		t.Errorf("after reopen: %s, want %s", got, want)
	}
}

func TestDataDirLocked(t *testing.T) {
	c := open(t, Options{})
	_, err := Open(context.Background(), Options{Data: c.opts.Data, Logger: quiet})
	if err == nil || err.Error() != fmt.Sprintf("data directory %s is in use by another herald process", c.opts.Data) {
		t.Fatalf("second Open on one data dir: %v", err)
	}
}

func TestAppendWhenFull(t *testing.T) {
	c := open(t, Options{LogMaxBytes: 8 << 10})
	l := c.Log()
	ctx := context.Background()
	if err := l.Writable(ctx); err != nil {
		t.Fatalf("Writable on an empty log: %v", err)
	}
	body := bytes.Repeat([]byte("x"), 1000)
	var stored uint64
	for {
		seq, err := l.Append(ctx, body, t0)
		if err != nil {
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "log full") {
				t.Fatalf("Append on a full log: %v, want ErrUnavailable, log full", err)
			}
			t.Log(err)
			break
		}
		stored = seq
		if stored > 100 {
			t.Fatal("the log never filled")
		}
	}
	if _, last, err := l.Bounds(ctx); err != nil || last != stored {
		t.Errorf("last seq = %d, %v; want %d (nothing stored by the refused append)", last, err, stored)
	}
	if err := l.Writable(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Writable on a full log = %v, want ErrUnavailable", err)
	}
}

func TestAppendServerDown(t *testing.T) {
	c := open(t, Options{Timeout: 2 * time.Second})
	c.emb.srv.Shutdown()
	c.emb.srv.WaitForShutdown()
	// Append gives up (Options.Timeout) rather than waiting for the server;
	// the deadline here only keeps a hang from stalling the suite.
	appendOnce := func(what string) {
		t.Helper()
		res := make(chan error, 1)
		go func() {
			_, err := c.Log().Append(context.Background(), []byte("x"), t0)
			res <- err
		}()
		select {
		case err := <-res:
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s with the server down = %v, want ErrUnavailable", what, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s with the server down does not return", what)
		}
	}
	appendOnce("Append")
	appendOnce("a second Append") // the client knows the server is gone by now
	if err := c.Log().Writable(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Writable with the server down = %v, want ErrUnavailable", err)
	}
}

func TestAppendTooLarge(t *testing.T) {
	c := open(t, Options{MaxPayload: 64 << 10})
	l := c.Log()
	_, err := l.Append(context.Background(), make([]byte, l.MaxBody()+1), t0)
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnavailable) {
		t.Errorf("oversized Append = %v, want ErrTooLarge only", err)
	}
	if _, err := l.Append(context.Background(), make([]byte, l.MaxBody()), t0); err != nil {
		t.Errorf("Append of exactly MaxBody: %v", err)
	}
}

// An index appended with a body comes back with it from Read and Last; one
// that would not fit in the message beside the body is left out, and the
// body is still stored.
func TestAppendIndexed(t *testing.T) {
	c := open(t, Options{MaxPayload: 64 << 10})
	l := c.Log()
	ctx := context.Background()
	if _, err := l.AppendIndexed(ctx, []byte("a"), t0, "AQAB"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte("b"), t0); err != nil {
		t.Fatal(err)
	}
	full := make([]byte, l.MaxBody())
	if _, err := l.AppendIndexed(ctx, full, t0, "AQAB"); err != nil {
		t.Fatalf("a body of MaxBody with an index: %v", err)
	}
	recs := readN(t, l, 0, 3)
	if recs[0].Index != "AQAB" || recs[1].Index != "" || recs[2].Index != "" || len(recs[2].Body) != len(full) {
		t.Errorf("indexes read %q, %q, %q; want AQAB, none, none (left out)", recs[0].Index, recs[1].Index, recs[2].Index)
	}
	var last []string
	if err := l.Last(ctx, 3, func(r Record) bool { last = append(last, r.Index); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(last, []string{"", "", "AQAB"}) {
		t.Errorf("Last gave indexes %q", last)
	}
}

func TestQueueDedup(t *testing.T) {
	c := open(t, Options{})
	q := c.Actions()
	ctx := context.Background()
	publish := func(subject, id, data string) (uint64, bool) {
		t.Helper()
		seq, dup, err := q.Publish(ctx, subject, id, []byte(data), nil)
		if err != nil {
			t.Fatal(err)
		}
		return seq, dup
	}
	if seq, dup := publish("herald.actions.slack", "rule/key/1", "one"); seq != 1 || dup {
		t.Errorf("first publish = %d, %v", seq, dup)
	}
	if seq, dup := publish("herald.actions.slack", "rule/key/1", "again"); seq != 1 || !dup {
		t.Errorf("same id = %d, dup %v; want 1, true", seq, dup)
	}
	if seq, dup := publish("herald.actions.mailjet", "rule/key/2", "two"); seq != 2 || dup {
		t.Errorf("new id = %d, %v; want 2, false", seq, dup)
	}
	m, err := q.Stream().GetLastMsgForSubject(ctx, "herald.actions.>")
	if err != nil || string(m.Data) != "two" || m.Header.Get(jetstream.MsgIDHeader) != "rule/key/2" {
		t.Errorf("newest firing = %v, %v", m, err)
	}
	if _, _, err := q.Publish(ctx, "elsewhere", "x", nil, nil); err == nil {
		t.Error("publish outside herald.actions. accepted")
	}
}

// PublishAll stores every message once by its ID, over several waves of
// publishes, and again safely; with the server down it fails with
// ErrUnavailable.
func TestQueuePublishAll(t *testing.T) {
	c := open(t, Options{Timeout: 2 * time.Second})
	q := c.Actions()
	ctx := context.Background()
	var msgs []Message
	for i := range 2*publishWave + 100 {
		id := fmt.Sprintf("rule/%d", i%(2*publishWave)) // the last 100 repeat ids
		msgs = append(msgs, Message{Subject: "herald.actions.slack", ID: id, Data: []byte(id),
			Header: nats.Header{"Herald-Position": []string{strconv.Itoa(i)}}})
	}
	count := func() uint64 {
		t.Helper()
		info, err := q.Stream().Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	for round := range 2 { // the second time, every message is a duplicate
		if rest, err := q.PublishAll(ctx, msgs); err != nil || len(rest) != 0 {
			t.Fatalf("round %d: %d not stored: %v", round, len(rest), err)
		}
		if n := count(); n != 2*publishWave {
			t.Fatalf("round %d: %d messages stored, want %d", round, n, 2*publishWave)
		}
	}
	m, err := q.Stream().GetMsg(ctx, 7)
	if err != nil || string(m.Data) != "rule/6" || m.Header.Get("Herald-Position") != "6" || m.Header.Get(jetstream.MsgIDHeader) != "rule/6" {
		t.Errorf("message 7 = %v, %v", m, err)
	}
	if _, err := q.PublishAll(ctx, []Message{{Subject: "elsewhere", ID: "x"}}); err == nil {
		t.Error("publish outside herald.actions. accepted")
	}
	// One message has no stream to go to: it alone is to publish again.
	mixed := []Message{
		{Subject: "herald.actions.slack", ID: "mixed/1", Data: []byte("1")},
		{Subject: "nowhere.at.all", Data: []byte("2")},
		{Subject: "herald.actions.slack", ID: "mixed/3", Data: []byte("3")},
	}
	if rest, err := c.PublishAll(ctx, mixed); !errors.Is(err, ErrUnavailable) || len(rest) != 1 || rest[0].Subject != "nowhere.at.all" {
		t.Errorf("PublishAll with one unroutable message = %v, %v; want only it back and ErrUnavailable", rest, err)
	}
	if n := count(); n != 2*publishWave+2 {
		t.Errorf("%d messages stored, want the %d before and the 2 routable ones", n, 2*publishWave)
	}
	c.emb.srv.Shutdown()
	c.emb.srv.WaitForShutdown()
	if rest, err := q.PublishAll(ctx, msgs[:3]); !errors.Is(err, ErrUnavailable) || len(rest) != 3 || rest[2].ID != msgs[2].ID {
		t.Errorf("PublishAll with the server down = %d to publish again, %v; want all 3 and ErrUnavailable", len(rest), err)
	}
}

func TestKVAndObjectStore(t *testing.T) {
	c := open(t, Options{})
	ctx := context.Background()
	kv, err := c.KV(ctx, "herald_lease", func(cfg *jetstream.KeyValueConfig) { cfg.TTL = time.Minute })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "engine", []byte("node-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "engine", []byte("node-2")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("second Create = %v, want ErrKeyExists", err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.TTL() != time.Minute || st.History() != 1 {
		t.Errorf("kv status %v, %v", st, err)
	}
	obj, err := c.ObjectStore(ctx, "herald_snapshots")
	if err != nil {
		t.Fatal(err)
	}
	snap := bytes.Repeat([]byte("state"), 100000)
	if _, err := obj.PutBytes(ctx, "snap-1", snap); err != nil {
		t.Fatal(err)
	}
	back, err := obj.GetBytes(ctx, "snap-1")
	if err != nil || !bytes.Equal(back, snap) {
		t.Errorf("object round trip: %d bytes, %v", len(back), err)
	}
}

// TestLargestRecord appends and reads back a body of MaxBody, the file
// store's limit when max_payload is larger, and refuses one byte more.
func TestLargestRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 32 MiB")
	}
	c := open(t, Options{MaxPayload: 48 << 20})
	l := c.Log()
	if got, want := l.MaxBody(), int64(32<<20-65<<10); got != want {
		t.Errorf("MaxBody = %d, want %d", got, want)
	}
	if _, err := l.Append(context.Background(), make([]byte, l.MaxBody()+1), t0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of MaxBody+1 = %v, want ErrTooLarge", err)
	}
	body := bytes.Repeat([]byte("b"), int(l.MaxBody()))
	if _, err := l.Append(context.Background(), body, t0); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c.Log(), 1, 1); !bytes.Equal(got[0].Body, body) {
		t.Errorf("read back %d bytes, want %d", len(got[0].Body), len(body))
	}
}
