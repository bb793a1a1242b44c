package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/webhook"
)

// stepKeys are the keys of an events entry that are not Mailjet fields.
var stepKeys = []string{"at", "advance", "repeat", "interval"}

// mailjetFields are the fields herald knows (DESIGN §5), to catch typos:
// any other field is kept, under extra.
var mailjetFields = []string{"event", "time", "MessageID", "Message_GUID", "email", "mj_campaign_id",
	"mj_contact_id", "customcampaign", "CustomID", "Payload", "mj_message_id", "smtp_reply", "ip", "geo",
	"agent", "url", "blocked", "hard_bounce", "error_related_to", "error", "comment", "source", "mj_list_id"}

var eventTypes = []string{"sent", "open", "click", "bounce", "blocked", "spam", "unsub"}

// parseSteps reads a test's events, placing each on the virtual clock:
// `at` is an offset from the start, `time` alone an absolute time, and an
// entry with neither happens when the previous one did. The clock never
// goes back: herald receives events in order.
func parseSteps(e *testErrs, n *yaml.Node, where string, start time.Time) []testStep {
	if n.Kind != yaml.SequenceNode {
		e.at(n, where, "events: must be a list, e.g. - {at: 0s, event: sent, MessageID: 1, email: a@x.com}")
		return nil
	}
	var steps []testStep
	clock := start
	for i, item := range n.Content {
		w := fmt.Sprintf("%s: events[%d]", where, i)
		if item.Kind != yaml.MappingNode {
			e.at(item, w, "must be a mapping: an event's fields, or advance: DURATION")
			continue
		}
		st, ok := parseStep(e, item, w, start, clock)
		if !ok {
			continue
		}
		steps = append(steps, st)
		clock = st.to
		if !st.advance {
			clock = st.to.Add(time.Duration(st.repeat-1) * st.interval)
		}
	}
	return steps
}

// entry is an events entry: its keys in file order, and by name.
type entry struct {
	keys   []*yaml.Node
	fields map[string]*yaml.Node
}

func entryOf(e *testErrs, n *yaml.Node, where string) (entry, bool) {
	en := entry{fields: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if en.fields[k.Value] != nil {
			e.at(k, where, "duplicate key %q", k.Value)
			return en, false
		}
		en.fields[k.Value] = v
		en.keys = append(en.keys, k)
	}
	return en, len(en.keys) > 0 || reportEmpty(e, n, where)
}

func reportEmpty(e *testErrs, n *yaml.Node, where string) bool {
	e.at(n, where, "empty: give an event's fields, or advance: DURATION")
	return false
}

func parseStep(e *testErrs, n *yaml.Node, where string, start, clock time.Time) (testStep, bool) {
	st := testStep{line: n.Line, repeat: 1, to: clock}
	en, ok := entryOf(e, n, where)
	if !ok {
		return st, false
	}
	if v := en.fields["advance"]; v != nil {
		if len(en.keys) > 1 {
			e.at(n, where, "advance: stands alone: {advance: 24h} moves the clock, it sends no event")
			return st, false
		}
		d, ok := durationValue(e, v, where+".advance")
		st.advance, st.to = true, clock.Add(d)
		return st, ok
	}
	st.to, ok = placeEvent(e, n, en, where, start, clock)
	ok = repeatOf(e, en, where, &st) && ok
	ev, good := eventOf(e, en, where)
	st.ev, st.timeSet = ev, en.fields["time"] != nil
	return st, ok && good
}

// placeEvent returns when herald receives the event: at `at` after the
// start, at `time` when only it is given, else when the previous entry
// happened. It must not be before the previous entry.
func placeEvent(e *testErrs, n *yaml.Node, en entry, where string, start, clock time.Time) (time.Time, bool) {
	to := clock
	if v := en.fields["at"]; v != nil {
		d, ok := durationValue(e, v, where+".at")
		if !ok {
			return clock, false
		}
		to = start.Add(d)
	} else if v := en.fields["time"]; v != nil {
		t, ok := parseTime(v)
		if !ok {
			e.at(v, where+".time", "want Unix seconds or an RFC 3339 time, got %q", v.Value)
			return clock, false
		}
		to = t
	}
	switch {
	case to.Before(start):
		e.at(n, where, "happens at %s, before the test's start (%s): set start: to an earlier time",
			to.Format(time.RFC3339), start.Format(time.RFC3339))
		return clock, false
	case to.Before(clock):
		e.at(n, where, "happens at %s, before the previous entry (%s): herald receives events in order; "+
			"for an event Mailjet dated earlier, give at: (when herald receives it) and time: (Mailjet's time)",
			offset(to.Sub(start)), offset(clock.Sub(start)))
		return clock, false
	}
	return to, true
}

// repeatOf reads repeat and interval.
func repeatOf(e *testErrs, en entry, where string, st *testStep) bool {
	ok := true
	if v := en.fields["repeat"]; v != nil {
		if err := v.Decode(&st.repeat); err != nil || st.repeat < 1 || st.repeat > maxRepeat {
			e.at(v, where+".repeat", "must be a whole number from 1 to %d", maxRepeat)
			st.repeat, ok = 1, false
		}
		if en.fields["MessageID"] == nil {
			e.at(v, where+".repeat", "needs a MessageID: each copy gets the next one, so none is a duplicate")
			ok = false
		}
	}
	if v := en.fields["interval"]; v != nil {
		var good bool
		st.interval, good = durationValue(e, v, where+".interval")
		if en.fields["repeat"] == nil {
			e.at(v, where+".interval", "only applies with repeat: the time between copies")
			good = false
		}
		ok = ok && good
	}
	return ok
}

// eventOf turns an entry's Mailjet fields into JSON and decodes it as the
// webhook does, so a test sees exactly what production sees.
func eventOf(e *testErrs, en entry, where string) (engine.Event, bool) {
	if v := en.fields["event"]; v == nil {
		e.at(en.keys[0], where, "event: missing: the event type (sent, open, click, bounce, blocked, spam, unsub), or advance: to move the clock")
		return engine.Event{}, false
	} else if hint := engine.Suggest(v.Value, eventTypes); hint != "" && !contains(eventTypes, v.Value) {
		e.warn(v, where+".event", "%q is not a Mailjet event type%s", v.Value, hint)
	}
	obj, ok := eventJSON(e, en, where)
	if !ok {
		return engine.Event{}, false
	}
	events, err := webhook.Decode(obj, time.Time{})
	if err != nil || len(events) != 1 {
		e.at(en.keys[0], where, "not a Mailjet event: %v", err)
		return engine.Event{}, false
	}
	return events[0], true
}

// eventJSON writes the entry's fields as one JSON object, in file order.
func eventJSON(e *testErrs, en entry, where string) ([]byte, bool) {
	obj := []byte{'{'}
	for _, k := range en.keys {
		name, v := k.Value, en.fields[k.Value]
		switch {
		case contains(stepKeys, name):
			continue
		case name == "domain" || name == "payload" || name == "received":
			e.at(k, where, "%s is derived by herald (from email, Payload, and the virtual clock): leave it out", name)
			return nil, false
		case !contains(mailjetFields, name):
			if hint := engine.Suggest(name, mailjetFields); hint != "" {
				e.warn(k, where, "%q is not a Mailjet field%s: it is kept under extra", name, hint)
			}
		}
		val, err := jsonValue(name, v)
		if err != nil {
			e.at(v, where+"."+name, "%v", err)
			return nil, false
		}
		if len(obj) > 1 {
			obj = append(obj, ',')
		}
		key, _ := json.Marshal(name)
		obj = append(append(append(obj, key...), ':'), val...)
	}
	return append(obj, '}'), true
}

// jsonValue converts one field's YAML value to JSON. Numbers keep their
// digits (ids above 2^53 stay exact), `time` may be an RFC 3339 time (it
// becomes Unix seconds, as Mailjet sends it), and a Payload given as a
// mapping becomes its JSON text, as Mailjet sends it.
func jsonValue(name string, n *yaml.Node) ([]byte, error) {
	switch {
	case name == "time":
		t, ok := parseTime(n)
		if !ok {
			return nil, fmt.Errorf("want Unix seconds or an RFC 3339 time, got %q", n.Value)
		}
		return strconv.AppendInt(nil, t.Unix(), 10), nil
	case name == "Payload" && n.Kind == yaml.MappingNode:
		text, err := json.Marshal(canonicalNode(n))
		if err != nil {
			return nil, err
		}
		return json.Marshal(string(text))
	}
	return json.Marshal(canonicalNode(n))
}
