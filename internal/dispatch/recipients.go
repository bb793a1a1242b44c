package dispatch

import (
	"context"
	"maps"
	"net/mail"
	"strings"
)

// kindMailjet is the action kind whose recipients are checked against the
// suppression list.
const kindMailjet = "mailjet"

// filterSuppressed checks each recipient of a mailjet action's `to` (an
// address, {email, name}, or a list of those) against the suppression
// list. It returns the params with the suppressed recipients left out
// (params itself when none is; nil when all are) and the reasons of those
// left out. A recipient it cannot read is kept: the action judges it.
func filterSuppressed(ctx context.Context, s Suppressions, params map[string]any) (kept map[string]any, dropped []string, err error) {
	list, isList := params["to"].([]any)
	if !isList {
		list = []any{params["to"]}
	}
	var keep []any
	for _, r := range list {
		email := recipientEmail(r)
		if email == "" {
			keep = append(keep, r)
			continue
		}
		reason, ok, err := s.Check(ctx, email)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			dropped = append(dropped, reason)
			continue
		}
		keep = append(keep, r)
	}
	switch {
	case len(dropped) == 0:
		return params, nil, nil
	case len(keep) == 0:
		return nil, dropped, nil
	}
	kept = maps.Clone(params)
	kept["to"] = keep
	return kept, dropped, nil
}

// recipientEmail returns the address of one `to` entry, or "".
func recipientEmail(v any) string {
	switch x := v.(type) {
	case string:
		if a, err := mail.ParseAddress(x); err == nil {
			return a.Address
		}
		return strings.TrimSpace(x)
	case map[string]any:
		s, _ := x["email"].(string)
		return strings.TrimSpace(s)
	}
	return ""
}
