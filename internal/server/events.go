package server

import (
	"net/http"
	"strconv"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/webhook"
)

// Limits of GET /api/events?limit=N.
const (
	defaultEventsLimit = 50
	maxEventsLimit     = 1000
)

// storedEvent is one element of GET /api/events: the event with the log
// record that holds it (Seq) and its place in that body (Index).
type storedEvent struct {
	Seq   uint64        `json:"seq"`
	Index int           `json:"index"`
	Event *engine.Event `json:"event"`
}

// events answers GET /api/events?limit=N: the last N events received,
// decoded, newest first. A record's events come last-in-body first, so the
// whole list is the log read backwards.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r, defaultEventsLimit, maxEventsLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := make([]storedEvent, 0, min(limit, 64))
	err = s.log.Last(r.Context(), limit, func(rec streams.Record) bool {
		evs, err := webhook.Decode(rec.Body, rec.Received)
		if err != nil {
			// Ingest stored only bodies that passed webhook.Check, so this
			// is a foreign writer or a decoder bug: show what can be shown.
			s.logger.Warn("api/events: undecodable log record", "seq", rec.Seq, "err", err)
			return true
		}
		for i := len(evs) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, storedEvent{Seq: rec.Seq, Index: i, Event: &evs[i]})
		}
		return len(out) < limit
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "reading the event log: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Events []storedEvent `json:"events"`
	}{out})
}

// queryLimit parses the limit query parameter: def when absent, an error
// when not a positive integer, capped at max.
func queryLimit(r *http.Request, def, max int) (int, error) {
	q := r.URL.Query().Get("limit")
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n <= 0 {
		return 0, &limitError{q}
	}
	return min(n, max), nil
}

type limitError struct{ value string }

func (e *limitError) Error() string {
	return "limit " + strconv.Quote(e.value) + " is not a positive integer"
}
