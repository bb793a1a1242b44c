package lease_test

import (
	"context"
	"log"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/lease"
)

// One replica's part in the election: work runs while this replica holds
// the lease, and stops when it is lost or ctx ends. Work that must not
// outlive the lease also checks Held before each step.
func Example() {
	nc, err := nats.Connect("nats://n1:4222,nats://n2:4222,nats://n3:4222")
	if err != nil {
		log.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	cfg := jetstream.KeyValueConfig{Bucket: lease.Bucket, Storage: jetstream.FileStorage, Replicas: 3}
	lease.BucketConfig(lease.DefaultTTL)(&cfg)
	kv, err := js.CreateOrUpdateKeyValue(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	l := lease.New(lease.Options{KV: kv})
	l.Run(context.Background(), func(ctx context.Context) {
		for ctx.Err() == nil && l.Held() {
			// one step of the work
		}
	})
}
