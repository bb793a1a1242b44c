// Package webhook checks and decodes the bodies Mailjet posts to herald's
// event webhook. Check is the ingest hot path: an allocation-free syntax
// scanner that accepts exactly what encoding/json.Valid accepts, when it is
// one object (Version 1) or an array of objects (Version 2, possibly empty),
// and counts the events. Decode turns such a body into engine.Events,
// tolerant of real Mailjet traffic: keys match Mailjet's names exactly and
// the last of a repeated key wins; integer fields (time, MessageID,
// mj_campaign_id, mj_contact_id, mj_list_id) take numbers or numeric
// strings, parsed digit by digit so ids above 2^53 stay exact, and an
// integer written as a float ("1.4e9", 1433333949.0) is converted exactly,
// while a fraction, a value outside int64, null, "", a boolean or any other
// value becomes 0; boolean fields (blocked, hard_bounce) take true/false,
// numbers (non-zero is true) and the strings strconv.ParseBool accepts, and
// anything else ("" and null included) is false; string fields take strings,
// null as "", numbers and booleans as their JSON text (CustomID: 42 is "42"),
// objects and arrays as their raw JSON text; invalid UTF-8 becomes U+FFFD as
// in encoding/json. Unknown fields go to Extra as encoding/json would decode
// them with UseNumber (json.Number, map[string]any, []any), Extra staying nil
// when there are none. The derived names domain, payload and received are
// ignored in input: Decode always recomputes Domain, PayloadMap and Received,
// so what engine.Event.MarshalJSON writes decodes back to the same event.
// One odd field never fails the body.
package webhook
