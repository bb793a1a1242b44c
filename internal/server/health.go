package server

import (
	"context"
	"net/http"
	"time"
)

// readyTimeout bounds the readiness checks so a stuck log cannot hang a probe.
const readyTimeout = 5 * time.Second

// healthz answers 200 while the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// EngineHolder may be implemented by Options.Rules when several herald
// replicas share the log and one of them runs the engine: /readyz then
// adds EngineHolder's value as "engine".
type EngineHolder interface {
	EngineHolder() any
}

// readyz answers 200 when the log takes writes and Options.Ready is
// satisfied (rules loaded), else 503 with the reason; both say which
// replica holds the engine when Options.Rules tells (EngineHolder).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	body := map[string]any{"status": "ready"}
	if h, ok := s.opts.Rules.(EngineHolder); ok {
		body["engine"] = h.EngineHolder()
	}
	code := http.StatusOK
	if err := s.log.Writable(ctx); err != nil {
		code, body["status"], body["error"] = http.StatusServiceUnavailable, "not ready", "event log: "+err.Error()
	} else if s.opts.Ready != nil {
		if err := s.opts.Ready(ctx); err != nil {
			code, body["status"], body["error"] = http.StatusServiceUnavailable, "not ready", err.Error()
		}
	}
	writeJSON(w, code, body)
}
