package lease

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldmail/herald/internal/testutil"
)

// testTTL is short so the tests that wait for an expiry stay quick (yet
// leaves a request 1.6 s under -race); delete markers need 1 s at least.
const testTTL = 2 * time.Second

// bucket connects to the cluster and creates a lease bucket for ttl.
func bucket(t *testing.T, urls []string, ttl time.Duration) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprint(urls[0]), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := jetstream.KeyValueConfig{Bucket: Bucket, Storage: jetstream.FileStorage, Replicas: len(urls)}
	BucketConfig(ttl)(&cfg)
	kv, err := js.CreateOrUpdateKeyValue(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// changed is fired by every replica whenever what the tests look at may
// have changed: its onAcquire started or ended, or its lease's value was
// seen to change (OnChange). Waits re-check their condition then. One
// signal for all replicas lets a wait watch several; a fire from another
// test's replica only costs a check.
var changed testutil.Signal

// replica is one participant: its lease and what its onAcquire saw.
type replica struct {
	l        *Lease
	reg      *prometheus.Registry
	terms    atomic.Int32  // onAcquire calls
	running  atomic.Bool   // inside onAcquire
	acquired chan struct{} // a value per onAcquire call
	cancel   context.CancelFunc
	done     chan struct{}
}

// run starts a replica; its Run ends with the test or stop.
func run(t *testing.T, opt Options) *replica {
	t.Helper()
	r := &replica{reg: prometheus.NewRegistry(), acquired: make(chan struct{}, 100), done: make(chan struct{})}
	opt.Registerer = r.reg
	onChange := opt.OnChange
	opt.OnChange = func(info Info, ok bool) {
		if onChange != nil {
			onChange(info, ok)
		}
		changed.Fire()
	}
	if opt.TTL == 0 {
		opt.TTL = testTTL
	}
	r.l = New(opt)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.l.Run(ctx, func(ctx context.Context) {
			r.terms.Add(1)
			r.running.Store(true)
			r.acquired <- struct{}{}
			changed.Fire()
			<-ctx.Done()
			r.running.Store(false)
			changed.Fire()
		})
	}()
	t.Cleanup(r.stop)
	return r
}

// stop ends Run and waits for it.
func (r *replica) stop() {
	r.cancel()
	<-r.done
}

// metric reads a gauge, or the changes counter for one change.
func (r *replica) metric(t *testing.T, name, change string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if change == "" || labelIs(m, "change", change) {
				if m.Gauge != nil {
					return m.Gauge.GetValue()
				}
				return m.Counter.GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{change=%q}", name, change)
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// holders returns the replicas whose lease is held now.
func holders(rs []*replica) []*replica {
	var out []*replica
	for _, r := range rs {
		if r.l.Held() {
			out = append(out, r)
		}
	}
	return out
}

// watchOverlap fails the test if two leases are ever seen held at once,
// checking every millisecond until the test ends.
func watchOverlap(t *testing.T, rs []*replica) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if h := holders(rs); len(h) > 1 {
				t.Errorf("%d replicas hold the lease at once", len(h))
				return
			}
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// waitUntil waits until cond holds, checking it each time a replica fires
// changed, and fails after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitUntil(t, d, what, &changed, cond)
}

// waitAcquired waits until one of rs runs onAcquire and returns it.
func waitAcquired(t *testing.T, rs []*replica, d time.Duration) *replica {
	t.Helper()
	var got *replica
	waitUntil(t, d, "a replica to acquire the lease", func() bool {
		for _, r := range rs {
			if r.running.Load() {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

func without(rs []*replica, x *replica) []*replica {
	var out []*replica
	for _, r := range rs {
		if r != x {
			out = append(out, r)
		}
	}
	return out
}
