package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/mux"
)

// Rules is what the admin API needs of the rules engine. Values returned
// are encoded as JSON as they are.
type Rules interface {
	// Rules returns the loaded rules with their counters (GET /api/rules).
	Rules(ctx context.Context) (any, error)
	// Reload loads the rules file again and swaps it in (POST /api/reload).
	// It returns the new version, or the load errors (joined with
	// errors.Join when several), in which case the old rules keep running.
	Reload(ctx context.Context) (version string, err error)
}

// Firings lists recent firings with their delivery status
// (GET /api/firings?rule=&limit=); rule "" means every rule.
type Firings interface {
	Firings(ctx context.Context, rule string, limit int) (any, error)
}

// DeadLetters is the dead-letter queue of the action dispatcher. Retry and
// Drop return an error wrapping ErrNotFound for an unknown id.
type DeadLetters interface {
	DeadLetters(ctx context.Context, limit int) (any, error)
	Retry(ctx context.Context, id string) error
	Drop(ctx context.Context, id string) error
}

// ErrNotFound is wrapped by Options' interfaces when the thing asked for
// does not exist; the API answers 404.
var ErrNotFound = errors.New("not found")

// Limits of the list endpoints other than /api/events.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// apiRoutes adds the endpoints of the optional interfaces that are set.
func (s *Server) apiRoutes(api *mux.Router) {
	if rules := s.opts.Rules; rules != nil {
		api.HandleFunc("/rules", func(w http.ResponseWriter, r *http.Request) {
			s.answer(w, r, func(ctx context.Context) (any, error) { return rules.Rules(ctx) })
		}).Methods(http.MethodGet)
		api.HandleFunc("/reload", s.reload).Methods(http.MethodPost)
	}
	if f := s.opts.Firings; f != nil {
		api.HandleFunc("/firings", func(w http.ResponseWriter, r *http.Request) {
			limit, err := queryLimit(r, defaultListLimit, maxListLimit)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			rule := r.URL.Query().Get("rule")
			s.answer(w, r, func(ctx context.Context) (any, error) { return f.Firings(ctx, rule, limit) })
		}).Methods(http.MethodGet)
	}
	if dl := s.opts.DeadLetters; dl != nil {
		api.HandleFunc("/dead-letters", func(w http.ResponseWriter, r *http.Request) {
			limit, err := queryLimit(r, defaultListLimit, maxListLimit)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			s.answer(w, r, func(ctx context.Context) (any, error) { return dl.DeadLetters(ctx, limit) })
		}).Methods(http.MethodGet)
		api.HandleFunc("/dead-letters/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
			s.act(w, r, dl.Retry)
		}).Methods(http.MethodPost)
		api.HandleFunc("/dead-letters/{id}", func(w http.ResponseWriter, r *http.Request) {
			s.act(w, r, dl.Drop)
		}).Methods(http.MethodDelete)
	}
}

// answer runs get and answers its value as JSON: 200, 404 for ErrNotFound,
// else 500.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, get func(context.Context) (any, error)) {
	v, err := get(r.Context())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// act runs do on the {id} of the path and answers {"id": id, "ok": true}.
func (s *Server) act(w http.ResponseWriter, r *http.Request, do func(context.Context, string) error) {
	id := mux.Vars(r)["id"]
	if err := do(r.Context(), id); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "ok": true})
}

func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	s.logger.Error("admin api", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

// reload answers POST /api/reload: 200 with the new version, or 400 with
// the load errors while the previous rules keep running.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	version, err := s.opts.Rules.Reload(r.Context())
	if err != nil {
		body := errorBody{Error: err.Error()}
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			for _, e := range joined.Unwrap() {
				body.Errors = append(body.Errors, e.Error())
			}
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": version})
}
