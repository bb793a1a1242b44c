package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// autoReplicas chooses the replica count on an external cluster when
// Options.Replicas is 0: an existing log keeps its count; otherwise 3 if
// the cluster can place a 3-replica stream, else 1. The probe creates and
// deletes a small stream, which asks the cluster itself rather than
// counting URLs (several URLs may name one server).
func (c *Conn) autoReplicas(ctx context.Context) (int, error) {
	if c.opts.Replicas > 0 {
		return c.opts.Replicas, nil
	}
	s, err := c.js.Stream(ctx, StreamLog)
	if err == nil {
		return s.CachedInfo().Config.Replicas, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("stream %s: %w", StreamLog, err)
	}
	probe := jetstream.StreamConfig{
		Name:     "HERALD_REPLICAS_PROBE",
		Subjects: []string{"herald.probe.replicas"},
		Storage:  jetstream.MemoryStorage,
		MaxBytes: 1024,
		Replicas: 3,
	}
	var apiErr *jetstream.APIError
	// A peer that is still starting makes the placement fail with "peer
	// offline": ask again for a while before deciding.
	for wait := 0; wait < probeWaits; wait++ {
		_, err = c.js.CreateStream(ctx, probe)
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodePeerOffline {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(probeWait):
		}
	}
	switch {
	case err == nil:
		if err := c.js.DeleteStream(ctx, probe.Name); err != nil {
			c.opts.Logger.Warn("delete replica probe stream", "err", err)
		}
		return 3, nil
	case errors.As(err, &apiErr) && (apiErr.ErrorCode == errCodeReplicasNotSupported || apiErr.ErrorCode == errCodeInsufficientResources):
		return 1, nil
	default:
		return 0, fmt.Errorf("probe cluster size: %w", err)
	}
}

// How long the replica probe waits for peers that are starting.
const (
	probeWaits = 40
	probeWait  = 250 * time.Millisecond
)

// JetStream API error codes (nats-server errors.json).
const (
	errCodePeerOffline           jetstream.ErrorCode = 10005 // "no suitable peers for placement, peer offline"
	errCodeInsufficientResources jetstream.ErrorCode = 10023 // also "no suitable peers"
	errCodeReplicasNotSupported  jetstream.ErrorCode = 10074 // not clustered
	errCodeStorageExceeded       jetstream.ErrorCode = 10047 // server storage limit
	errCodeStoreFailed           jetstream.ErrorCode = 10077 // e.g. "maximum bytes exceeded"
)
