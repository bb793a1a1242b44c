package webhook

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// fuzzSeeds adds Mailjet's documented events, as Version 1 and Version 2
// bodies, and a few odd bodies. testdata/fuzz holds what fuzzing found.
func fuzzSeeds(f *testing.F) {
	docs := docsEvents(f)
	for _, body := range docs {
		f.Add(body)
	}
	f.Add(asArray(docs))
	for _, s := range []string{
		``, ` [ ] `, `{`, `[{}, 1]`, `[[{}]]`, `42`, `"x"`, `null`, `{"a":1}x`,
		`{"MessageID":"576460765503091475","blocked":"","mj_list_id":"","time":1.4e9,"customcampaign":null}`,
		`{"Payload":"{\"a\":[1,{\"b\":null}]}","x":{"y":[true,-0.5e-3]},"\u0065vent":"\uD83D\uDE00\uD800"}`,
		"{\"s\":\"\xff\",\"\xfe\":1}",
	} {
		f.Add([]byte(s))
	}
}

// FuzzCheck checks that Check never panics and accepts exactly the bodies
// that json.Valid accepts and that are an object or an array of objects,
// counting their events right.
func FuzzCheck(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := Check(body)
		wantN, wantReason := oracleCheck(body)
		if Reason(err) != wantReason || n != wantN {
			t.Fatalf("Check(%q) = %d, %v; want %d, reason %q", body, n, err, wantN, wantReason)
		}
	})
}

// oracleCheck is what Check must return, computed with encoding/json.
func oracleCheck(body []byte) (n int, reason string) {
	if !json.Valid(body) {
		return 0, "not_json"
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // 1E1000 is valid JSON but no float64
	var v any
	if err := d.Decode(&v); err != nil {
		panic(err) // json.Valid said yes
	}
	switch v := v.(type) {
	case map[string]any:
		return 1, ""
	case []any:
		for _, e := range v {
			if _, ok := e.(map[string]any); !ok {
				return 0, "not_object"
			}
		}
		return len(v), ""
	}
	return 0, "not_object"
}

// FuzzDecode checks that Decode never panics, fails exactly when Check
// does, agrees with encoding/json (with UseNumber) on every field
// encoding/json can decode unambiguously, and reads back what
// engine.Event.MarshalJSON writes of each event.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	at := time.Unix(1700000000, 5).UTC()
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := Decode(body, at)
		n, checkErr := Check(body)
		if Reason(err) != Reason(checkErr) {
			t.Fatalf("Decode error %v, Check error %v", err, checkErr)
		}
		if err != nil {
			return
		}
		if len(events) != n {
			t.Fatalf("Decode gave %d events, Check counted %d", len(events), n)
		}
		// The log's consumer decodes with the index ingest wrote: the same.
		_, spans, _ := CheckSpans(body, nil)
		if indexed, err := DecodeIndexed(nil, body, Index(spans), at); err != nil || !reflect.DeepEqual(indexed, events) {
			t.Fatalf("DecodeIndexed differs from Decode (%v)", err)
		}
		for i, raw := range oracleObjects(t, body) {
			compareEvent(t, &events[i], raw, at)
			checkRoundTrip(t, events[i], at.Add(time.Second))
		}
	})
}

// oracleObjects decodes an accepted body with encoding/json into one map
// per event.
func oracleObjects(t *testing.T, body []byte) []map[string]any {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if m, ok := v.(map[string]any); ok {
		return []map[string]any{m}
	}
	var out []map[string]any
	for _, e := range v.([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// compareEvent checks ev against encoding/json's decoding of its object.
func compareEvent(t *testing.T, ev *engine.Event, raw map[string]any, at time.Time) {
	t.Helper()
	strs := map[string]string{
		"event": ev.Type, "Message_GUID": ev.MessageGUID, "email": ev.Email, "customcampaign": ev.CustomCampaign,
		"CustomID": ev.CustomID, "Payload": ev.Payload, "mj_message_id": ev.MjMessageID, "smtp_reply": ev.SMTPReply,
		"ip": ev.IP, "geo": ev.Geo, "agent": ev.Agent, "url": ev.URL, "error_related_to": ev.ErrorRelatedTo,
		"error": ev.Error, "comment": ev.Comment, "source": ev.Source,
	}
	ints := map[string]int64{
		"time": ev.Time, "MessageID": ev.MessageID, "mj_campaign_id": ev.CampaignID,
		"mj_contact_id": ev.ContactID, "mj_list_id": ev.ListID,
	}
	bools := map[string]bool{"blocked": ev.Blocked, "hard_bounce": ev.HardBounce}
	extra := 0
	for k, v := range raw {
		got, isStr := strs[k]
		gotInt, isInt := ints[k]
		gotBool, isBool := bools[k]
		switch {
		case isStr:
			if want, ok := scalarText(v); ok && got != want {
				t.Errorf("%s = %q, encoding/json says %#v", k, got, v)
			}
		case isInt:
			if want, ok := scalarText(v); ok {
				if want, err := strconv.ParseInt(want, 10, 64); err == nil && gotInt != want {
					t.Errorf("%s = %d, encoding/json says %#v", k, gotInt, v)
				}
			}
		case isBool:
			if b, ok := v.(bool); ok && gotBool != b {
				t.Errorf("%s = %v, encoding/json says %v", k, gotBool, b)
			}
		case k == "domain" || k == "payload" || k == "received":
		default:
			extra++
			if !reflect.DeepEqual(ev.Extra[k], v) {
				t.Errorf("Extra[%q] = %#v, encoding/json says %#v", k, ev.Extra[k], v)
			}
		}
	}
	if len(ev.Extra) != extra || (extra == 0 && ev.Extra != nil) {
		t.Errorf("Extra has %d keys (nil %v), want %d", len(ev.Extra), ev.Extra == nil, extra)
	}
	if ev.Domain != engine.DomainOf(ev.Email) || ev.PayloadMap == nil || !ev.Received.Equal(at) {
		t.Errorf("derived fields: domain %q, payload %v, received %v", ev.Domain, ev.PayloadMap, ev.Received)
	}
}

// scalarText is the text a string field takes from a scalar JSON value.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "", true
	}
	return "", false
}
