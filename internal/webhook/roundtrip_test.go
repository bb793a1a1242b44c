package webhook

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// TestRoundTrip checks that what engine.Event.MarshalJSON writes decodes
// back to the same event, so /api/events output and replay files can be
// read again.
func TestRoundTrip(t *testing.T) {
	bodies := docsEvents(t)
	for _, s := range []string{
		`{"event":"sent","MessageID":0,"email":"","blocked":"","hard_bounce":"","mj_list_id":""}`,
		`{"event":"x","MessageID":576460765503091475,"mj_list_id":-9223372036854775808,"time":-1,` +
			`"blocked":1,"hard_bounce":"true","CustomID":42,"comment":{"a":[1]},"geo":"\u2028<&>\u0000"}`,
		`{"Payload":"{\"a\":576460765503091476}","x_big":576460765503091477,"x_o":{"b":[],"a":{}},"extra":1}`,
		"{\"agent\":\"\xff\",\"\xfe\":\"\\ud800\"}",
	} {
		bodies = append(bodies, []byte(s))
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, body := range bodies {
		for _, ev := range mustDecode(t, body, 1) {
			checkRoundTrip(t, ev, at)
		}
	}
}

func checkRoundTrip(t *testing.T, ev engine.Event, at time.Time) {
	t.Helper()
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("Marshal(%+v): %v", ev, err)
	}
	back, err := Decode(out, at)
	if err != nil || len(back) != 1 {
		t.Fatalf("Decode(%s) = %d events, %v", out, len(back), err)
	}
	ev.Received = at
	if !reflect.DeepEqual(back[0], ev) {
		t.Errorf("round trip through %s:\n got %#v\nwant %#v", out, back[0], ev)
	}
}
