package suppress

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/streams"
)

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

// AddAll stores a batch as Adds in order would, on a Store from Open (puts
// sent together) and from New (one at a time); with the server down it
// fails.
func TestAddAll(t *testing.T) {
	ctx := context.Background()
	c := open(t, t.TempDir())
	defer c.Close()
	opened, err := Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	list := []Suppression{
		{Email: "a@x.com", Reason: ReasonBlocked, At: t0},
		{Email: "b@x.com", Reason: ReasonUnsub, At: t0},
		{Email: "A@x.com", Reason: ReasonSpam, At: t0.Add(time.Hour)}, // replaces the first
	}
	for i := range 600 { // more than one wave of publishes
		list = append(list, Suppression{Email: fmt.Sprintf("u%d@y.com", i), Reason: ReasonHardBounce, At: t0})
	}
	for name, s := range map[string]*Store{"Open": opened, "New": New(opened.kv)} {
		if err := s.Remove(ctx, "a@x.com"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddAll(ctx, list); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for email, want := range map[string]string{"a@x.com": ReasonSpam, "b@x.com": ReasonUnsub, "u599@y.com": ReasonHardBounce} {
			if reason, ok, err := s.Check(ctx, email); !ok || err != nil || reason != want {
				t.Errorf("%s: %s is %q (%v, %v), want %q", name, email, reason, ok, err, want)
			}
		}
	}
	if err := opened.AddAll(ctx, []Suppression{{Email: " ", Reason: ReasonUnsub}}); err == nil {
		t.Error("AddAll of an empty address succeeded")
	}
	c.Close()
	if err := opened.AddAll(ctx, list[:2]); err == nil {
		t.Error("AddAll with the server down succeeded")
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
