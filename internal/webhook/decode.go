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
			if f := d.knownKey(); f != fieldUnknown {
				d.field(ev, f)
			} else {
				d.other(ev, d.key())
			}
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

// field decodes the value at d.i into ev's field f.
func (d *decoder) field(ev *engine.Event, f fieldID) {
	switch f {
	case fieldEvent:
		ev.Type = d.stringValue()
	case fieldTime:
		ev.Time = d.intValue()
	case fieldMessageID:
		ev.MessageID = d.intValue()
	case fieldMessageGUID:
		ev.MessageGUID = d.stringValue()
	case fieldEmail:
		ev.Email = d.stringValue()
	case fieldCampaignID:
		ev.CampaignID = d.intValue()
	case fieldContactID:
		ev.ContactID = d.intValue()
	case fieldCustomCampaign:
		ev.CustomCampaign = d.stringValue()
	case fieldCustomID:
		ev.CustomID = d.stringValue()
	case fieldPayload:
		ev.Payload = d.stringValue()
	case fieldMjMessageID:
		ev.MjMessageID = d.stringValue()
	case fieldSMTPReply:
		ev.SMTPReply = d.stringValue()
	case fieldIP:
		ev.IP = d.stringValue()
	case fieldGeo:
		ev.Geo = d.stringValue()
	case fieldAgent:
		ev.Agent = d.stringValue()
	case fieldURL:
		ev.URL = d.stringValue()
	case fieldBlocked:
		ev.Blocked = d.boolValue()
	case fieldHardBounce:
		ev.HardBounce = d.boolValue()
	case fieldErrorRelatedTo:
		ev.ErrorRelatedTo = d.stringValue()
	case fieldError:
		ev.Error = d.stringValue()
	case fieldComment:
		ev.Comment = d.stringValue()
	case fieldSource:
		ev.Source = d.stringValue()
	case fieldListID:
		ev.ListID = d.intValue()
	case fieldDomain, fieldPayloadMap, fieldReceived:
		// Decode always recomputes the derived fields.
		d.i = skipValid(d.b, d.i)
	}
}

// other decodes the value at d.i for key, which names no field of
// engine.Event as written (an escaped name may still name one): unknown
// keys go to Extra.
func (d *decoder) other(ev *engine.Event, key string) {
	if f, ok := fieldNames[key]; ok {
		d.field(ev, f)
		return
	}
	if ev.Extra == nil {
		ev.Extra = make(map[string]any)
	}
	ev.Extra[key] = d.anyValue()
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
