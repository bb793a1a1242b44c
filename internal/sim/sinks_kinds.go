package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// slack answers an incoming webhook as Slack does: 200 "ok", or a short
// text error; a 429 says when to come back.
func (s *Sinks) slack(w http.ResponseWriter, r *http.Request, body []byte, c *Call) int {
	var msg struct {
		Text string `json:"text"`
	}
	if r.Method != http.MethodPost || json.Unmarshal(body, &msg) != nil {
		return text(w, http.StatusBadRequest, "invalid_payload")
	}
	c.Text = msg.Text
	if c.Failed {
		switch code := s.opt.Status; {
		case code == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
			return text(w, code, "rate_limited")
		case code >= 500:
			return text(w, code, "internal_error")
		default:
			return text(w, code, "invalid_payload")
		}
	}
	return text(w, http.StatusOK, "ok")
}

// mailjet answers a Send API v3.1 call as Mailjet does: one result per
// message, in order, each with a MessageID above 2^53. A 429 has an HTML
// body and no Retry-After (FACTS.md); an injected 400 fails every message
// of the call with a per-message error.
func (s *Sinks) mailjet(w http.ResponseWriter, r *http.Request, body []byte, c *Call) int {
	if _, _, ok := r.BasicAuth(); !ok {
		return jsonAnswer(w, http.StatusUnauthorized, map[string]any{"ErrorMessage": "API key authentication/authorization failure", "StatusCode": 401})
	}
	var req struct{ Messages []MailjetMessage }
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil || len(req.Messages) == 0 {
		return jsonAnswer(w, http.StatusBadRequest, map[string]any{"ErrorMessage": "Invalid json input", "StatusCode": 400})
	}
	c.Messages = req.Messages
	if c.Failed {
		switch code := s.opt.Status; code {
		case http.StatusTooManyRequests:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			fmt.Fprint(w, "<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>")
			return code
		case http.StatusBadRequest:
			results := make([]any, len(req.Messages))
			for i := range results {
				results[i] = map[string]any{"Status": "error", "Errors": []any{map[string]any{
					"ErrorIdentifier": s.uuid(), "ErrorCode": "sim-0400", "StatusCode": 400,
					"ErrorMessage": "injected failure", "ErrorRelatedTo": []string{"To"}}}}
			}
			return jsonAnswer(w, code, map[string]any{"Messages": results})
		default:
			return jsonAnswer(w, code, map[string]any{"ErrorIdentifier": s.uuid(), "ErrorMessage": "injected failure", "StatusCode": code})
		}
	}
	results := make([]any, len(req.Messages))
	for i, m := range req.Messages {
		to := make([]any, len(m.To))
		for j, a := range m.To {
			id := s.messageID()
			to[j] = map[string]any{"Email": a.Email, "MessageUUID": s.uuid(), "MessageID": id,
				"MessageHref": "https://api.mailjet.com/v3/REST/message/" + strconv.FormatInt(id, 10)}
		}
		results[i] = map[string]any{"Status": "success", "CustomID": m.CustomID, "To": to, "Cc": []any{}, "Bcc": []any{}}
	}
	return jsonAnswer(w, http.StatusOK, map[string]any{"Messages": results})
}

// crm accepts any call with a small JSON answer.
func (s *Sinks) crm(w http.ResponseWriter, c *Call) int {
	if c.Failed {
		if s.opt.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		return jsonAnswer(w, s.opt.Status, map[string]any{"error": "injected failure"})
	}
	return jsonAnswer(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Sinks) messageID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID += 1 + s.r.Int64N(8)
	return s.nextID
}

func (s *Sinks) uuid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newUUID(s.r)
}

func text(w http.ResponseWriter, code int, body string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, body)
	return code
}

func jsonAnswer(w http.ResponseWriter, code int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
	return code
}
