package suppress

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/pipeline"
	"github.com/heraldmail/herald/internal/streams"
)

// The engine loop records suppressions through pipeline.Suppressions.
var _ pipeline.Suppressions = (*Store)(nil)

func open(t *testing.T, dir string) *streams.Conn {
	t.Helper()
	c, err := streams.Open(context.Background(), streams.Options{Data: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAddCheck(t *testing.T) {
	ctx := context.Background()
	c := open(t, t.TempDir())
	defer c.Close()
	s, err := Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "Alice@Example.com ", ReasonUnsub, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "bob@example.com", ReasonHardBounce, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		email, reason string
		ok            bool
	}{
		{"alice@example.com", ReasonUnsub, true},
		{"  ALICE@EXAMPLE.COM", ReasonUnsub, true},
		{"bob@example.com", ReasonHardBounce, true},
		{"carol@example.com", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		reason, ok, err := s.Check(ctx, tt.email)
		if err != nil || reason != tt.reason || ok != tt.ok {
			t.Errorf("Check(%q) = %q, %v, %v; want %q, %v", tt.email, reason, ok, err, tt.reason, tt.ok)
		}
	}
	e, _, _ := s.Get(ctx, "alice@example.com")
	if !e.At.Equal(t0) {
		t.Errorf("entry at = %v, want %v", e.At, t0)
	}
}

func TestAddReplacesAndRemove(t *testing.T) {
	ctx := context.Background()
	c := open(t, t.TempDir())
	defer c.Close()
	s, _ := Open(ctx, c)
	_ = s.Add(ctx, "a@x.com", ReasonBlocked, t0)
	_ = s.Add(ctx, "a@x.com", ReasonSpam, t0.Add(time.Hour))
	if reason, _, _ := s.Check(ctx, "a@x.com"); reason != ReasonSpam {
		t.Errorf("reason = %q, want the newest, %q", reason, ReasonSpam)
	}
	if err := s.Remove(ctx, "A@x.com"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Check(ctx, "a@x.com"); ok || err != nil {
		t.Errorf("after Remove: ok = %v, err = %v", ok, err)
	}
	if err := s.Remove(ctx, "never@x.com"); err != nil {
		t.Errorf("Remove of an unlisted address: %v", err)
	}
}

func TestAddRejectsEmpty(t *testing.T) {
	ctx := context.Background()
	c := open(t, t.TempDir())
	defer c.Close()
	s, _ := Open(ctx, c)
	if err := s.Add(ctx, " ", ReasonUnsub, t0); err == nil {
		t.Error("Add of an empty address succeeded")
	}
	if err := s.Add(ctx, "a@x.com", "", t0); err == nil {
		t.Error("Add with an empty reason succeeded")
	}
}

// The list survives a restart, and keys do not reveal addresses.
func TestDurableAndKeysHashed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := open(t, dir)
	s, _ := Open(ctx, c)
	if err := s.Add(ctx, "alice@example.com", ReasonUnsub, t0); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = open(t, dir)
	defer c.Close()
	s, err := Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if reason, ok, err := s.Check(ctx, "alice@example.com"); !ok || reason != ReasonUnsub || err != nil {
		t.Fatalf("after restart: %q, %v, %v", reason, ok, err)
	}
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for k := range keys.Keys() {
		n++
		if strings.Contains(k, "alice") || len(k) != 64 {
			t.Errorf("key %q: want a hex SHA-256", k)
		}
	}
	if n != 1 {
		t.Errorf("%d keys, want 1", n)
	}
}
