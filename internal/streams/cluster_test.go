package streams

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/streams/streamstest"
	"github.com/nats-io/nats.go/jetstream"
)

func TestExternalStandaloneUsesOneReplica(t *testing.T) {
	cl := streamstest.StartCluster(t, 1)
	c := open(t, Options{URLs: cl.URLs})
	if c.Embedded() || c.Replicas() != 1 {
		t.Fatalf("embedded %v, replicas %d; want external, 1", c.Embedded(), c.Replicas())
	}
	appendAll(t, c.Log(), "a", "", "b")
	if got, want := describe(readN(t, c.Log(), 0, 3)), "1:a@0 2:tick@1 3:b@2 "; got != want {
		t.Errorf("Read = %s, want %s", got, want)
	}
}

func TestClusterOfThree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server cluster")
	}
	cl := streamstest.StartCluster(t, 3)
	c := open(t, Options{URLs: cl.URLs, Timeout: 2 * time.Second})
	ctx := context.Background()
	if c.Replicas() != 3 {
		t.Fatalf("auto replicas = %d, want 3", c.Replicas())
	}
	info, err := c.Log().Stream().Info(ctx)
	if err != nil || info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("log stream: %+v, %v", info, err)
	}
	kv, err := c.KV(ctx, "herald_lease")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; r != 3 {
		t.Errorf("kv replicas = %d, want 3", r)
	}

	appendAll(t, c.Log(), "a", "", "b")
	var got []Record
	if err := c.Log().Last(ctx, 0, func(r Record) bool { got = append(got, r); return true }); err != nil {
		t.Fatal(err)
	}
	if d, want := describe(got), "3:b@2 1:a@0 "; d != want {
		t.Errorf("Last = %s, want %s", d, want)
	}

	// Stop the server the client is connected to: appends resume on the
	// other two (a quorum of the 3 replicas), and nothing acknowledged is
	// lost.
	connected := c.NATS().ConnectedUrl()
	for i, u := range cl.URLs {
		if u == connected {
			cl.Stop(i)
		}
	}
	acked := appendUntilOK(t, c.Log(), 20)
	if _, last, err := c.Log().Bounds(ctx); err != nil || last < acked {
		t.Fatalf("after stopping a server: last %d, %v; acked %d", last, err, acked)
	}
	recs := readWithin(t, c.Log(), 1, int(acked), 45*time.Second)
	if recs[len(recs)-1].Seq != acked {
		t.Errorf("read up to %d, want %d", recs[len(recs)-1].Seq, acked)
	}
}

// appendUntilOK appends n events, retrying ErrUnavailable (the client is
// failing over) for up to 30 s, and returns the last acknowledged sequence.
func appendUntilOK(t *testing.T, l *Log, n int) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last uint64
	for i := 0; i < n; {
		seq, err := l.Append(context.Background(), []byte(fmt.Sprintf("after-%d", i)), t0)
		switch {
		case err == nil:
			last, i = seq, i+1
		case !errors.Is(err, ErrUnavailable) || time.Now().After(deadline):
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return last
}
