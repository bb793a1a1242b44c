package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestEventMarshalJSON(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"zero event", Event{},
			`{"event":"","time":0,"MessageID":0,"email":"","domain":"","payload":{},"received":"0001-01-01T00:00:00Z"}`},
		{"every field", Event{
			Type: "bounce", Time: 1433333949, MessageID: 576460765503091475, MessageGUID: "g", Email: "a@X.com",
			CampaignID: 4294967296, ContactID: 5, CustomCampaign: "cc", CustomID: "promo-1", Payload: `{"n":9007199254740993}`,
			MjMessageID: "576460765503091475", SMTPReply: "250 OK", IP: "127.0.0.1", Geo: "FR", Agent: "Mozilla",
			URL: "https://x.com/?a=1&b=<2>", Blocked: true, HardBounce: true, ErrorRelatedTo: "recipient",
			Error: "user unknown", Comment: "c", Source: "JMRPP", ListID: math.MaxInt64,
			Extra: map[string]any{"zeta": json.Number("576460765503091476"), "alpha": []any{true, nil},
				"event": "collides, left out", "received": "collides too"},
			Domain:     "x.com",
			PayloadMap: map[string]any{"n": json.Number("9007199254740993"), "a": "b"},
			Received:   time.Date(2025, 6, 1, 14, 30, 45, 123456789, paris),
		}, `{"event":"bounce","time":1433333949,"MessageID":576460765503091475,"Message_GUID":"g","email":"a@X.com",` +
			`"mj_campaign_id":4294967296,"mj_contact_id":5,"customcampaign":"cc","CustomID":"promo-1",` +
			`"Payload":"{\"n\":9007199254740993}","mj_message_id":"576460765503091475","smtp_reply":"250 OK",` +
			`"ip":"127.0.0.1","geo":"FR","agent":"Mozilla","url":"https://x.com/?a=1&b=<2>","blocked":true,` +
			`"hard_bounce":true,"error_related_to":"recipient","error":"user unknown","comment":"c","source":"JMRPP",` +
			`"mj_list_id":9223372036854775807,"alpha":[true,null],"zeta":576460765503091476,"domain":"x.com",` +
			`"payload":{"a":"b","n":9007199254740993},"received":"2025-06-01T12:30:45.123456789Z"}`},
		{"unset optional fields left out", Event{Type: "open", Time: -1, MessageID: 1, Email: "e", PayloadMap: map[string]any{}},
			`{"event":"open","time":-1,"MessageID":1,"email":"e","domain":"","payload":{},"received":"0001-01-01T00:00:00Z"}`},
		{"string escapes", Event{Type: "q\"b\\s/\n\r\t\x01\x1f", Email: "bad\xffutf8 \u2028\u2029 é 😀"},
			`{"event":"q\"b\\s/\n\r\t\u0001\u001f","time":0,"MessageID":0,"email":"bad\ufffdutf8 \u2028\u2029 é 😀",` +
				`"domain":"","payload":{},"received":"0001-01-01T00:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byValue, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			byPointer, err := json.Marshal(&tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := tt.ev.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(direct) != tt.want {
				t.Errorf("MarshalJSON:\n got %s\nwant %s", direct, tt.want)
			}
			// json.Marshal compacts and HTML-escapes what MarshalJSON writes.
			var compact bytes.Buffer
			json.HTMLEscape(&compact, direct)
			if string(byValue) != compact.String() || string(byPointer) != compact.String() {
				t.Errorf("json.Marshal differs:\nvalue   %s\npointer %s\nwant    %s", byValue, byPointer, compact.String())
			}
		})
	}
}

// TestEventMarshalJSONReadable checks that strings survive encoding/json's
// reading of the output, including every control character.
func TestEventMarshalJSONReadable(t *testing.T) {
	var sb strings.Builder
	for c := rune(0); c < 0x80; c++ {
		sb.WriteRune(c)
	}
	sb.WriteString("é\u2028😀")
	ev := Event{Type: sb.String(), Comment: sb.String()}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if back["event"] != sb.String() || back["comment"] != sb.String() {
		t.Errorf("strings changed: %q", back["event"])
	}
}

func TestEventMarshalJSONDeterministic(t *testing.T) {
	ev := Event{Extra: map[string]any{}, PayloadMap: map[string]any{}}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		ev.Extra["x_"+k] = k
		ev.PayloadMap[k] = map[string]any{"b": 1, "a": 2}
	}
	first, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if again, _ := json.Marshal(ev); !bytes.Equal(again, first) {
			t.Fatalf("output changed:\n%s\n%s", first, again)
		}
	}
	if !bytes.Contains(first, []byte(`"x_a":"a","x_b":"b"`)) {
		t.Errorf("Extra keys not sorted: %s", first)
	}
}

func TestEventMarshalJSONError(t *testing.T) {
	ev := Event{Extra: map[string]any{"ch": make(chan int)}}
	if _, err := json.Marshal(ev); err == nil || !strings.Contains(err.Error(), `event field "ch"`) {
		t.Errorf("error = %v, want one naming the field", err)
	}
	ev = Event{PayloadMap: map[string]any{"n": json.Number("not a number")}}
	if _, err := json.Marshal(ev); err == nil || !strings.Contains(err.Error(), "event payload") {
		t.Errorf("error = %v, want one naming the payload", err)
	}
}
