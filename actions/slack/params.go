package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"
)

// Keys are the params a `slack` action accepts.
var Keys = []string{"text", "blocks", "channel", "username", "icon_emoji"}

// message is a checked `slack` action.
type message struct {
	text      string
	blocks    *slack.Blocks
	channel   string
	username  string
	iconEmoji string
}

// Validate checks a `slack` action's params as written in a rule, before
// templates are rendered: unknown keys, and text or blocks present. Values
// are checked by Do once rendered.
func Validate(params map[string]any) error {
	for k := range params {
		if !slices.Contains(Keys, k) {
			return fmt.Errorf("unknown key %q (want one of %s)", k, strings.Join(Keys, ", "))
		}
	}
	_, text := params["text"]
	_, blocks := params["blocks"]
	if !text && !blocks {
		return errors.New("want text, blocks or both")
	}
	return nil
}

// parse checks rendered params.
func parse(params map[string]any) (*message, error) {
	if err := Validate(params); err != nil {
		return nil, err
	}
	m := &message{}
	for _, f := range []struct {
		key string
		dst *string
	}{{"text", &m.text}, {"channel", &m.channel}, {"username", &m.username}, {"icon_emoji", &m.iconEmoji}} {
		if v, ok := params[f.key]; ok && v != nil {
			if *f.dst, ok = v.(string); !ok {
				return nil, fmt.Errorf("%s: want a string, got %T", f.key, v)
			}
		}
	}
	if v, ok := params["blocks"]; ok && v != nil {
		b, err := blocks(v)
		if err != nil {
			return nil, fmt.Errorf("blocks: %w", err)
		}
		m.blocks = b
	}
	if strings.TrimSpace(m.text) == "" && m.blocks == nil {
		return nil, errors.New("text is empty and there are no blocks")
	}
	return m, nil
}

// blocks decodes Block Kit JSON: a list of blocks, or an object holding one
// under "blocks" (what Block Kit Builder exports).
func blocks(v any) (*slack.Blocks, error) {
	if obj, ok := v.(map[string]any); ok {
		inner, ok := obj["blocks"]
		if !ok || len(obj) != 1 {
			return nil, errors.New(`want a list of blocks, or an object with only "blocks"`)
		}
		v = inner
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of blocks, got %T", v)
	}
	if len(list) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	var b slack.Blocks
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}
