package server

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// heldRules is a Rules that says which replica holds the engine.
type heldRules struct{ holder string }

func (heldRules) Rules(context.Context) (any, error)     { return []string{}, nil }
func (heldRules) Reload(context.Context) (string, error) { return "", nil }
func (h heldRules) EngineHolder() any                    { return map[string]any{"holder": h.holder, "here": false} }

// /readyz names the engine's holder when Options.Rules knows it, ready or
// not.
func TestReadyzSaysWhoHoldsTheEngine(t *testing.T) {
	var readyErr error
	s, _, _ := newTestServer(t, Options{Rules: heldRules{"b-42"}, Ready: func(context.Context) error { return readyErr }})
	rec := do(s, http.MethodGet, "/readyz", nil)
	if want := `{"engine":{"here":false,"holder":"b-42"},"status":"ready"}`; rec.Code != 200 || rec.Body.String() != want+"\n" {
		t.Errorf("/readyz: %d %s, want 200 %s", rec.Code, rec.Body, want)
	}
	readyErr = errors.New("rules not loaded")
	rec = do(s, http.MethodGet, "/readyz", nil)
	if want := `{"engine":{"here":false,"holder":"b-42"},"error":"rules not loaded","status":"not ready"}`; rec.Code != 503 || rec.Body.String() != want+"\n" {
		t.Errorf("/readyz: %d %s, want 503 %s", rec.Code, rec.Body, want)
	}
}
