package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Snapshots keeps the engine's snapshots in a JetStream object store, one
// object per snapshot named by the log position it covers. The newest Keep
// are kept so an unreadable newest one can fall back to the one before.
type Snapshots struct {
	Store  jetstream.ObjectStore
	Keep   int // default 2
	Logger *slog.Logger
}

const snapshotPrefix = "engine-"

// name sorts lexically by position.
func snapshotName(seq uint64) string { return fmt.Sprintf("%s%020d", snapshotPrefix, seq) }

// Save stores a snapshot covering the log up to seq and deletes the ones
// beyond Keep.
func (s *Snapshots) Save(ctx context.Context, seq uint64, data []byte) error {
	if _, err := s.Store.PutBytes(ctx, snapshotName(seq), data); err != nil {
		return fmt.Errorf("snapshot at %d: %w", seq, err)
	}
	keep := s.Keep
	if keep <= 0 {
		keep = 2
	}
	seqs, err := s.list(ctx)
	if err != nil {
		return err
	}
	for i := keep; i < len(seqs); i++ {
		if err := s.Store.Delete(ctx, snapshotName(seqs[i])); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("deleting snapshot %d: %w", seqs[i], err)
		}
	}
	return nil
}

// Load restores the newest snapshot that restore accepts and returns its
// position. A snapshot that cannot be read or restored is reported and the
// one before it tried; with none usable it returns 0 (replay the whole
// log).
func (s *Snapshots) Load(ctx context.Context, restore func([]byte) error) (uint64, error) {
	seqs, err := s.list(ctx)
	if err != nil {
		return 0, err
	}
	for _, seq := range seqs {
		data, err := s.Store.GetBytes(ctx, snapshotName(seq))
		if err == nil {
			err = restore(data)
		}
		if err == nil {
			return seq, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		s.logger().Error("snapshot unusable; trying an older one", "position", seq, "err", err)
	}
	return 0, nil
}

// list returns the snapshots' positions, newest first.
func (s *Snapshots) list(ctx context.Context) ([]uint64, error) {
	infos, err := s.Store.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	var seqs []uint64
	for _, info := range infos {
		rest, ok := strings.CutPrefix(info.Name, snapshotPrefix)
		if !ok {
			continue
		}
		if seq, err := strconv.ParseUint(rest, 10, 64); err == nil {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	slices.Reverse(seqs)
	return seqs, nil
}

func (s *Snapshots) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
