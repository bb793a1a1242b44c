package streams

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// KV creates or updates the key-value bucket and returns it. The bucket
// uses file storage, Conn.Replicas() replicas and keeps one value per key
// (History 1); opts may change its configuration (e.g. TTL, History,
// LimitMarkerTTL for per-key TTLs) before it is applied. Every caller of
// one bucket must pass the same options: the last call's configuration
// wins.
func (c *Conn) KV(ctx context.Context, bucket string, opts ...func(*jetstream.KeyValueConfig)) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:   bucket,
		Storage:  jetstream.FileStorage,
		Replicas: c.replicas,
		History:  1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	kv, err := c.js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// ObjectStore creates or updates the object store and returns it, with
// file storage and Conn.Replicas() replicas; opts may change its
// configuration (e.g. MaxBytes, Compression) first, as with KV.
func (c *Conn) ObjectStore(ctx context.Context, bucket string, opts ...func(*jetstream.ObjectStoreConfig)) (jetstream.ObjectStore, error) {
	cfg := jetstream.ObjectStoreConfig{
		Bucket:   bucket,
		Storage:  jetstream.FileStorage,
		Replicas: c.replicas,
	}
	for _, o := range opts {
		o(&cfg)
	}
	os, err := c.js.CreateOrUpdateObjectStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", bucket, err)
	}
	return os, nil
}
