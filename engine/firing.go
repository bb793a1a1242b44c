package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Firing is one decision of a rule: its actions, rendered, with a
// deterministic id. The same log and rules always produce the same firings
// with the same ids, so the action queue can drop the ones it has seen.
type Firing struct {
	// ID is derived from the rule, its key and a sequence number; it is
	// passed to actions as an idempotency hint (Mailjet CustomID, HTTP
	// Idempotency-Key).
	ID   string    `json:"id"`
	Rule string    `json:"rule"`
	At   time.Time `json:"at"`
	// Key is the rule's key for this firing: the group, the `by` value, or
	// empty for plain rules.
	Key string `json:"key"`
	// Resolve is true for the on_resolve firing of a window rule.
	Resolve bool `json:"resolve,omitempty"`
	// Shadow firings are recorded but run no action.
	Shadow bool `json:"shadow,omitempty"`
	// Pos is the log position of the event or tick that caused the firing.
	Pos uint64 `json:"pos,omitempty"`
	// Email is the recipient the firing concerns (the triggering event's
	// email), used for suppression. Empty when no single event caused it.
	Email   string   `json:"email,omitempty"`
	Actions []Action `json:"actions"`
}

// Action is one rendered action of a firing. Kind is "mailjet", "slack" or
// "http"; Connection names the herald.yaml connection that runs it; Params
// are the action's keys with every template rendered, as a JSON object
// (ParamsMap decodes it). The engine renders them straight into JSON, the
// form the action stream stores, and never changes them once returned.
type Action struct {
	Kind              string          `json:"kind"`
	Connection        string          `json:"connection"`
	Params            json.RawMessage `json:"params"`
	IgnoreSuppression bool            `json:"ignore_suppression,omitempty"`
}

// ParamsMap decodes Params, numbers as json.Number, so that they keep
// every digit: a map to read or change. Without params it returns nil.
func (a Action) ParamsMap() (map[string]any, error) {
	if len(a.Params) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(a.Params))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("action params: %w", err)
	}
	return m, nil
}
