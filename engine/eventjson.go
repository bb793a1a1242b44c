package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// jsonNames are the keys MarshalJSON writes for Event's own fields: Mailjet's
// names, then the derived ones. An Extra key among them is not written.
var jsonNames = map[string]bool{
	"event": true, "time": true, "MessageID": true, "Message_GUID": true, "email": true,
	"mj_campaign_id": true, "mj_contact_id": true, "customcampaign": true, "CustomID": true,
	"Payload": true, "mj_message_id": true, "smtp_reply": true, "ip": true, "geo": true,
	"agent": true, "url": true, "blocked": true, "hard_bounce": true, "error_related_to": true,
	"error": true, "comment": true, "source": true, "mj_list_id": true,
	"domain": true, "payload": true, "received": true,
}

// MarshalJSON writes e as one JSON object with Mailjet's field names, in a
// fixed order so the output is deterministic: the Mailjet fields (event,
// time, MessageID and email always, the others only when set), then the
// Extra fields sorted by key, then the derived domain, payload (always an
// object) and received (RFC 3339 in UTC with nanoseconds). Integers are
// written as exact JSON integers, so ids above 2^53 survive. An Extra key
// that is one of the names above is left out: the field wins. The value
// receiver makes json.Marshal use this method for both Event and *Event.
// webhook.Decode reads the output back into the same event.
func (e Event) MarshalJSON() ([]byte, error) {
	w := objectWriter{b: append(make([]byte, 0, 512), '{')}
	w.str("event", e.Type, true)
	w.int("time", e.Time, true)
	w.int("MessageID", e.MessageID, true)
	w.str("Message_GUID", e.MessageGUID, false)
	w.str("email", e.Email, true)
	w.int("mj_campaign_id", e.CampaignID, false)
	w.int("mj_contact_id", e.ContactID, false)
	w.str("customcampaign", e.CustomCampaign, false)
	w.str("CustomID", e.CustomID, false)
	w.str("Payload", e.Payload, false)
	w.str("mj_message_id", e.MjMessageID, false)
	w.str("smtp_reply", e.SMTPReply, false)
	w.str("ip", e.IP, false)
	w.str("geo", e.Geo, false)
	w.str("agent", e.Agent, false)
	w.str("url", e.URL, false)
	w.bool("blocked", e.Blocked)
	w.bool("hard_bounce", e.HardBounce)
	w.str("error_related_to", e.ErrorRelatedTo, false)
	w.str("error", e.Error, false)
	w.str("comment", e.Comment, false)
	w.str("source", e.Source, false)
	w.int("mj_list_id", e.ListID, false)
	for _, k := range slices.Sorted(maps.Keys(e.Extra)) {
		if jsonNames[k] {
			continue
		}
		if err := w.value(k, e.Extra[k]); err != nil {
			return nil, fmt.Errorf("event field %q: %w", k, err)
		}
	}
	w.str("domain", e.Domain, true)
	if err := w.payload(e.PayloadMap); err != nil {
		return nil, fmt.Errorf("event payload: %w", err)
	}
	w.key("received")
	w.b = append(w.b, '"')
	w.b = e.Received.UTC().AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"', '}')
	return w.b, nil
}

// objectWriter appends the members of one JSON object, whose opening brace
// b already holds, to b.
type objectWriter struct {
	b []byte
	n int // members written
}

func (w *objectWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *objectWriter) str(k, v string, always bool) {
	if v != "" || always {
		w.key(k)
		w.b = appendString(w.b, v)
	}
}

func (w *objectWriter) int(k string, v int64, always bool) {
	if v != 0 || always {
		w.key(k)
		w.b = strconv.AppendInt(w.b, v, 10)
	}
}

func (w *objectWriter) bool(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

// value writes v with encoding/json, which sorts map keys and writes a
// json.Number as it is.
func (w *objectWriter) value(k string, v any) error {
	text, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.key(k)
	w.b = append(w.b, text...)
	return nil
}

// payload writes the payload map, {} when it is nil or empty.
func (w *objectWriter) payload(m map[string]any) error {
	if len(m) == 0 {
		w.key("payload")
		w.b = append(w.b, "{}"...)
		return nil
	}
	return w.value("payload", m)
}
