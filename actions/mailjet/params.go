package mailjet

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strconv"
	"strings"
)

// Keys are the params a `mailjet` action accepts. `from` is not one: the
// connection owns the sender.
var Keys = []string{"to", "template_id", "template_language", "subject", "text", "html", "variables", "custom_id", "event_payload"}

// recipient is one `to` entry: its address and the value the rule gave, kept
// so that a retry's params name it the same way.
type recipient struct {
	addr address
	orig any
}

// send is a checked action: the recipients and the message each gets.
type send struct {
	to  []recipient
	msg message // everything but From and To
}

// Validate checks a `mailjet` action's params as written in a rule, before
// templates are rendered: unknown keys, `from`, and the combinations of
// keys (to; template_id, or subject with text and/or html). Values are
// checked by Do once rendered.
func Validate(params map[string]any) error {
	for k := range params {
		if k == "from" {
			return errors.New("from is set by the connection, not by a rule")
		}
		if !slices.Contains(Keys, k) {
			return fmt.Errorf("unknown key %q (want one of %s)", k, strings.Join(Keys, ", "))
		}
	}
	has := func(k string) bool { _, ok := params[k]; return ok }
	switch {
	case !has("to"):
		return errors.New("to is required")
	case has("template_id") && (has("text") || has("html")):
		return errors.New("template_id excludes text and html (the template holds the content)")
	case !has("template_id") && (!has("subject") || (!has("text") && !has("html"))):
		return errors.New("want template_id, or subject with text and/or html")
	}
	return nil
}

// parse checks rendered params. id is the default CustomID.
func parse(id string, params map[string]any) (*send, error) {
	if err := Validate(params); err != nil {
		return nil, err
	}
	s := &send{msg: message{CustomID: id}}
	var err error
	if s.to, err = recipients(params["to"]); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if v, ok := params["template_id"]; ok {
		if s.msg.TemplateID, err = templateID(v); err != nil {
			return nil, fmt.Errorf("template_id: %w", err)
		}
		s.msg.TemplateLanguage = true
	}
	if v, ok := params["template_language"]; ok {
		if s.msg.TemplateLanguage, ok = v.(bool); !ok {
			return nil, fmt.Errorf("template_language: want a boolean, got %T", v)
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"subject", &s.msg.Subject}, {"text", &s.msg.TextPart}, {"html", &s.msg.HTMLPart}} {
		if v, ok := params[f.key]; ok {
			if *f.dst, ok = v.(string); !ok {
				return nil, fmt.Errorf("%s: want a string, got %T", f.key, v)
			}
		}
	}
	if v, ok := params["variables"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("variables: want a map, got %T", v)
		}
		s.msg.Variables = noNulls(m).(map[string]any)
	}
	if v, ok := params["custom_id"]; ok {
		if s.msg.CustomID, err = scalar(v); err != nil {
			return nil, fmt.Errorf("custom_id: %w", err)
		}
	}
	if s.msg.EventPayload, err = payload(params["event_payload"]); err != nil {
		return nil, fmt.Errorf("event_payload: %w", err)
	}
	return s, nil
}

// recipients reads `to`: an address ("a@x.com" or "Name <a@x.com>"), an
// object {email, name}, or a list of those. An address listed twice gets
// one message.
func recipients(v any) ([]recipient, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []recipient
	seen := map[string]bool{}
	for _, e := range list {
		addr, err := recipientAddress(e)
		if err != nil {
			return nil, err
		}
		if key := strings.ToLower(addr.Email); !seen[key] {
			seen[key] = true
			out = append(out, recipient{addr: addr, orig: e})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no recipient")
	}
	return out, nil
}

func recipientAddress(v any) (address, error) {
	switch x := v.(type) {
	case string:
		a, err := mail.ParseAddress(x)
		if err != nil {
			return address{}, fmt.Errorf("%q: %w", x, err)
		}
		return address{Email: a.Address, Name: a.Name}, nil
	case map[string]any:
		for k := range x {
			if k != "email" && k != "name" {
				return address{}, fmt.Errorf("unknown key %q in a recipient (want email, name)", k)
			}
		}
		email, _ := x["email"].(string)
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != strings.TrimSpace(email) {
			return address{}, fmt.Errorf("email %q: not a bare address", email)
		}
		name, ok := x["name"].(string)
		if !ok && x["name"] != nil {
			return address{}, fmt.Errorf("name: want a string, got %T", x["name"])
		}
		return address{Email: a.Address, Name: name}, nil
	}
	return address{}, fmt.Errorf("want an address or {email, name}, got %T", v)
}

// templateID reads a positive integer given as a number or numeric string.
func templateID(v any) (int64, error) {
	var id int64
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || x < 1 || x > 1<<53 {
			return 0, fmt.Errorf("%v is not a template id", x)
		}
		id = int64(x)
	case int:
		id = int64(x)
	case int64:
		id = x
	case json.Number:
		return templateID(x.String())
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		id = n
	default:
		return 0, fmt.Errorf("want a number, got %T", v)
	}
	if id < 1 {
		return 0, fmt.Errorf("%d is not a template id", id)
	}
	return id, nil
}

// noNulls copies a variables value with every nil replaced by "": Mailjet
// answers 500 to a null variable.
func noNulls(v any) any {
	switch x := v.(type) {
	case nil:
		return ""
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = noNulls(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = noNulls(e)
		}
		return out
	}
	return v
}

// payload reads event_payload: a string as is, anything else as JSON.
func payload(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// scalar formats a custom_id: a string, or a number without exponent.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case json.Number:
		return x.String(), nil
	}
	return "", fmt.Errorf("want a string or number, got %T", v)
}
