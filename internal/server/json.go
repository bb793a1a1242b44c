package server

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"
)

// errorBody is the JSON every error answer carries.
type errorBody struct {
	Error string `json:"error"`
	// Errors lists the individual errors when there are several (e.g. a
	// rules file that failed to load).
	Errors []string `json:"errors,omitempty"`
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// writeError answers code with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// notFound answers 404, or 405 when the path exists for another method.
// (gorilla/mux v1.8.1 reports 404 rather than 405 for a subrouter's route
// when a later route of the same subrouter does not match.)
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		other := *r
		other.Method = m
		var match mux.RouteMatch
		if s.router.Match(&other, &match) && match.MatchErr == nil {
			methodNotAllowed(w, r)
			return
		}
	}
	writeError(w, http.StatusNotFound, "not found")
}

func methodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}
