package webhook

import (
	"time"

	"github.com/heraldmail/herald/engine"
)

// Decode decodes a body that Check accepts into its events, in body order.
// It sets Received on each event to received and derives Domain and
// PayloadMap. Fields are decoded tolerantly (see the package documentation):
// one odd field never fails the body. Decode returns an error, wrapping
// ErrNotJSON or ErrNotObject, exactly when Check does.
func Decode(body []byte, received time.Time) ([]engine.Event, error) {
	return DecodeInto(nil, body, received)
}

// DecodeInto is Decode into dst's storage when it is large enough: a
// consumer decoding record after record reuses one slice of events rather
// than allocating and zeroing one per record. The events of the previous
// call are overwritten; strings decoded before stay valid (each event's
// text is its own copy).
func DecodeInto(dst []engine.Event, body []byte, received time.Time) ([]engine.Event, error) {
	var st kindStack // also reused to validate each event's Payload
	// Mailjet events take 300 to 600 bytes: this capacity rarely needs to grow.
	spans := make([]Span, 0, len(body)/256+1)
	n, err := check(body, &st, &spans)
	if err != nil {
		return dst[:0], err
	}
	return decodeSpans(reuse(dst, n), body, spans, &st, received), nil
}

// decodeSpans decodes the object at each span of body into events, which
// has one zero event per span.
func decodeSpans(events []engine.Event, body []byte, spans []Span, st *kindStack, received time.Time) []engine.Event {
	for k, sp := range spans {
		ev := &events[k]
		decodeEvent(body[sp.Start:sp.End], ev, st)
		ev.Received = received
	}
	return events
}

// reuse returns n zero events in dst's storage when it is large enough.
func reuse(dst []engine.Event, n int) []engine.Event {
	if cap(dst) >= n && cap(dst) > 0 {
		events := dst[:n]
		clear(events)
		return events
	}
	return make([]engine.Event, n)
}

// decodeEvent decodes the object b, already validated, into ev.
// The object's text is copied into one string that the event's string
// fields share: one allocation per event instead of one per field, and an
// event keeps no other event's memory alive.
func decodeEvent(b []byte, ev *engine.Event, st *kindStack) {
	d := decoder{b: b, s: string(b), i: 1}
	if d.space(); d.b[d.i] != '}' {
		for {
			d.field(ev, d.key())
			if d.space(); d.b[d.i] == '}' {
				break
			}
			d.i++ // ','
			d.space()
		}
	}
	ev.Domain = engine.DomainOf(ev.Email)
	ev.PayloadMap = payloadMap(ev.Payload, st)
}

// field decodes the value at d.i into the field of ev that key names.
// Unknown keys go to Extra; the derived names are skipped because Decode
// always recomputes them.
func (d *decoder) field(ev *engine.Event, key string) {
	switch key {
	case "event":
		ev.Type = d.stringValue()
	case "time":
		ev.Time = d.intValue()
	case "MessageID":
		ev.MessageID = d.intValue()
	case "Message_GUID":
		ev.MessageGUID = d.stringValue()
	case "email":
		ev.Email = d.stringValue()
	case "mj_campaign_id":
		ev.CampaignID = d.intValue()
	case "mj_contact_id":
		ev.ContactID = d.intValue()
	case "customcampaign":
		ev.CustomCampaign = d.stringValue()
	case "CustomID":
		ev.CustomID = d.stringValue()
	case "Payload":
		ev.Payload = d.stringValue()
	case "mj_message_id":
		ev.MjMessageID = d.stringValue()
	case "smtp_reply":
		ev.SMTPReply = d.stringValue()
	case "ip":
		ev.IP = d.stringValue()
	case "geo":
		ev.Geo = d.stringValue()
	case "agent":
		ev.Agent = d.stringValue()
	case "url":
		ev.URL = d.stringValue()
	case "blocked":
		ev.Blocked = d.boolValue()
	case "hard_bounce":
		ev.HardBounce = d.boolValue()
	case "error_related_to":
		ev.ErrorRelatedTo = d.stringValue()
	case "error":
		ev.Error = d.stringValue()
	case "comment":
		ev.Comment = d.stringValue()
	case "source":
		ev.Source = d.stringValue()
	case "mj_list_id":
		ev.ListID = d.intValue()
	case "domain", "payload", "received":
		d.i = skipValid(d.b, d.i)
	default:
		if ev.Extra == nil {
			ev.Extra = make(map[string]any)
		}
		ev.Extra[key] = d.anyValue()
	}
}

// noPayload is the PayloadMap of every event whose Payload is not a JSON
// object (nearly all: Mailjet sends ""). It is one map for all of them, as
// an event's maps are shared and never written; a new empty map per event
// was one of the two allocations Decode makes per event.
var noPayload = map[string]any{}

// payloadMap parses p as a JSON object (numbers as json.Number). It returns
// the empty, non-nil noPayload when p is anything else.
func payloadMap(p string, st *kindStack) map[string]any {
	i := 0
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	if i == len(p) || p[i] != '{' {
		return noPayload
	}
	b := []byte(p)
	end, ok := skipValue(b, i, 0, st)
	if !ok || skipSpace(b, end) != len(b) {
		return noPayload
	}
	d := decoder{b: b, s: p, i: i}
	return d.object()
}
