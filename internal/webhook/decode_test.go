package webhook

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

var received = time.Date(2025, 6, 1, 12, 30, 45, 123456789, time.UTC)

// docsWant is the decoding of each event of testdata/events-docs.jsonl, in
// file order.
func docsWant() []engine.Event {
	common := func(typ string, tm, id int64, email string, campaign, contact int64) engine.Event {
		return engine.Event{
			Type: typ, Time: tm, MessageID: id, MessageGUID: "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
			Email: email, CampaignID: campaign, ContactID: contact, CustomID: "helloworld",
			Domain: "mailjet.com", PayloadMap: map[string]any{}, Received: received,
		}
	}
	reply := "sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)"
	sent1 := common("sent", 1433333949, 19421777835146490, "api@mailjet.com", 7257, 4)
	sent1.MjMessageID, sent1.SMTPReply = "19421777835146490", reply
	sent2 := common("sent", 1433333949, 19421777835146491, "api@mailjet.com", 7257, 4)
	sent2.MessageGUID, sent2.MjMessageID, sent2.SMTPReply = "j2i1hg0-f987-6543-2109-8765e4dc32ba1", "19421777835146491", reply
	open := common("open", 1433103519, 19421777396190490, "api@mailjet.com", 7173, 320)
	open.IP, open.Geo, open.Agent = "127.0.0.1", "US", "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"
	click := common("click", 1433334653, 19421777836302490, "api@mailjet.com", 7272, 4)
	click.URL, click.IP, click.Geo = "https://mailjet.com", "127.0.0.1", "FR"
	click.Agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_0) AppleWebKit/537.36"
	bounce := common("bounce", 1430812195, 13792286917004336, "bounce@mailjet.com", 0, 0)
	bounce.HardBounce, bounce.ErrorRelatedTo, bounce.Error = true, "recipient", "user unknown"
	bounce.Comment = "Host or domain name not found. Name service error for name=lbjsnrftlsiuvbsren.com type=A: Host not found"
	blocked := common("blocked", 1430812195, 13792286917004336, "bounce@mailjet.com", 0, 0)
	blocked.ErrorRelatedTo, blocked.Error = "recipient", "user unknown"
	spam := common("spam", 1430812195, 13792286917004336, "bounce@mailjet.com", 0, 0)
	spam.Source = "JMRPP"
	unsub := common("unsub", 1433334941, 20547674933128000, "api@mailjet.com", 7276, 126)
	unsub.ListID, unsub.IP, unsub.Geo = 1, "127.0.0.1", "FR"
	unsub.Agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36"
	return []engine.Event{sent1, sent2, open, click, bounce, blocked, spam, unsub}
}

func TestDecodeDocsEvents(t *testing.T) {
	docs, want := docsEvents(t), docsWant()
	if len(docs) != len(want) {
		t.Fatalf("testdata has %d events, want %d", len(docs), len(want))
	}
	t.Run("v1", func(t *testing.T) {
		for i, body := range docs {
			got := mustDecode(t, body, 1)
			if !reflect.DeepEqual(got[0], want[i]) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, got[0], want[i])
			}
		}
	})
	t.Run("v2", func(t *testing.T) {
		got := mustDecode(t, asArray(docs), len(docs))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("\n got %+v\nwant %+v", got, want)
		}
	})
}

// mustDecode decodes body, checking that Check and Decode agree on n.
func mustDecode(t *testing.T, body []byte, n int) []engine.Event {
	t.Helper()
	if got, err := Check(body); err != nil || got != n {
		t.Fatalf("Check = %d, %v; want %d, nil", got, err, n)
	}
	events, err := Decode(body, received)
	if err != nil || len(events) != n {
		t.Fatalf("Decode = %d events, %v; want %d, nil", len(events), err, n)
	}
	return events
}

func TestDecodeBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []engine.Event
	}{
		{"empty array", `[]`, []engine.Event{}},
		{"empty array in whitespace", " \n[\t]\r\n", []engine.Event{}},
		{"v1 in whitespace", "\n {\"event\":\"open\",\"email\":\"A@X.com\"} \n",
			[]engine.Event{{Type: "open", Email: "A@X.com", Domain: "x.com"}}},
		{"send test", `{"event":"sent","time":1700000000,"MessageID":0,"Message_GUID":"","email":"",
			"mj_campaign_id":0,"mj_contact_id":0,"customcampaign":"","CustomID":"","Payload":"",
			"blocked":"","hard_bounce":"","mj_list_id":""}`,
			[]engine.Event{{Type: "sent", Time: 1700000000}}},
		{"neighbouring ids above 2^53", `[{"MessageID":576460765503091475},{"MessageID":576460765503091476}]`,
			[]engine.Event{{MessageID: 576460765503091475}, {MessageID: 576460765503091476}}},
		{"ids as strings", `{"time":"1433333949","MessageID":"576460765503091475","mj_campaign_id":" 4294967296 ",
			"mj_contact_id":"-3","mj_list_id":"17"}`,
			[]engine.Event{{Time: 1433333949, MessageID: 576460765503091475, CampaignID: 4294967296, ContactID: -3, ListID: 17}}},
		{"very old event", `{"event":"open","time":"1230768000","MessageID":"19421777396190490","email":"old@Example.ORG",
			"mj_campaign_id":"7173","mj_contact_id":"320","customcampaign":null}`,
			[]engine.Event{{Type: "open", Time: 1230768000, MessageID: 19421777396190490, Email: "old@Example.ORG",
				CampaignID: 7173, ContactID: 320, Domain: "example.org"}}},
		{"missing fields", `{"event":"click"}`, []engine.Event{{Type: "click"}}},
		{"unknown event type kept", `{"event":"forwarded","MessageID":7}`,
			[]engine.Event{{Type: "forwarded", MessageID: 7}}},
		{"unknown fields to Extra", `{"event":"open","x_id":576460765503091475,"x_f":1.5e300,"x_s":"s","x_b":false,
			"x_n":null,"x_o":{"id":576460765503091476,"a":[1,"b",{}],"e":[]},"Email":"case matters"}`,
			[]engine.Event{{Type: "open", Extra: map[string]any{
				"x_id": json.Number("576460765503091475"), "x_f": json.Number("1.5e300"), "x_s": "s", "x_b": false,
				"x_n": nil, "Email": "case matters",
				"x_o": map[string]any{"id": json.Number("576460765503091476"),
					"a": []any{json.Number("1"), "b", map[string]any{}}, "e": []any{}},
			}}}},
		{"derived names ignored", `{"email":"a@b.c","domain":"evil.com","payload":{"a":1},"received":"2001-01-01T00:00:00Z"}`,
			[]engine.Event{{Email: "a@b.c", Domain: "b.c"}}},
		{"duplicate keys: last wins", `{"event":"open","event":"click","x":1,"x":2,"time":5,"time":null}`,
			[]engine.Event{{Type: "click", Extra: map[string]any{"x": json.Number("2")}}}},
		{"names that start like fields", `{"events":"x","error_x":"y","emails":"z","ip2":"w","time_":1,
			"event":"open","error":"e","error_related_to":"r","ip":"1.2.3.4"}`,
			[]engine.Event{{Type: "open", Error: "e", ErrorRelatedTo: "r", IP: "1.2.3.4", Extra: map[string]any{
				"events": "x", "error_x": "y", "emails": "z", "ip2": "w", "time_": json.Number("1")}}}},
		{"spaces around colons", "{ \"event\" : \"open\" ,\n\"email\"\t:\"a@b.c\", \"MessageID\"  :  5 , \"geo\" :\"FR\" }",
			[]engine.Event{{Type: "open", Email: "a@b.c", Domain: "b.c", MessageID: 5, Geo: "FR"}}},
		{"escaped keys and values", `{"\u0065vent":"cl\u0069ck","url":"https://x\/y?a=1\u0026b=\"2\"","agent":"\uD83D\uDE00 \uD800 é"}`,
			[]engine.Event{{Type: "click", URL: `https://x/y?a=1&b="2"`, Agent: "\U0001F600 \uFFFD é"}}},
		{"invalid UTF-8 replaced", "{\"comment\":\"a\xffb\",\"x\xfe\":\"\xc3\"}",
			[]engine.Event{{Comment: "a\uFFFDb", Extra: map[string]any{"x\uFFFD": "\uFFFD"}}}},
		{"payload object", `{"Payload":"{\"a\":576460765503091475,\"b\":[true],\"c\":{\"d\":\"e\"}}"}`,
			[]engine.Event{{Payload: `{"a":576460765503091475,"b":[true],"c":{"d":"e"}}`,
				PayloadMap: map[string]any{"a": json.Number("576460765503091475"), "b": []any{true},
					"c": map[string]any{"d": "e"}}}}},
		{"payload object with spaces", `{"Payload":" {\"a\":1} "}`,
			[]engine.Event{{Payload: ` {"a":1} `, PayloadMap: map[string]any{"a": json.Number("1")}}}},
		{"payload given as an object", `{"Payload":{"a": 1}}`,
			[]engine.Event{{Payload: `{"a": 1}`, PayloadMap: map[string]any{"a": json.Number("1")}}}},
		{"payload not an object", `[{"Payload":"[1]"},{"Payload":"{bad"},{"Payload":"{} x"},{"Payload":"plain"}]`,
			[]engine.Event{{Payload: "[1]"}, {Payload: "{bad"}, {Payload: "{} x"}, {Payload: "plain"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustDecode(t, []byte(tt.body), len(tt.want))
			for i := range tt.want {
				fillDerived(&tt.want[i])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// fillDerived sets what Decode always sets, so tables can leave it out.
func fillDerived(ev *engine.Event) {
	ev.Received = received
	if ev.PayloadMap == nil {
		ev.PayloadMap = map[string]any{}
	}
}

func TestDecodeSendTest(t *testing.T) {
	body := `{"event":"sent","time":1700000000,"MessageID":0,"Message_GUID":"","email":"","mj_campaign_id":0,
		"mj_contact_id":0,"customcampaign":"","CustomID":"","Payload":"","blocked":"","hard_bounce":"","mj_list_id":""}`
	ev := mustDecode(t, []byte(body), 1)[0]
	if !ev.IsSendTest() {
		t.Errorf("IsSendTest() = false for %+v", ev)
	}
}

// TestDecodeFieldValues checks how each kind of field takes each kind of
// JSON value.
func TestDecodeFieldValues(t *testing.T) {
	tests := []struct {
		value   string
		str     string
		integer int64
		boolean bool
	}{
		{`"abc"`, "abc", 0, false},
		{`""`, "", 0, false},
		{`null`, "", 0, false},
		{`true`, "true", 0, true},
		{`false`, "false", 0, false},
		{`42`, "42", 42, true},
		{`0`, "0", 0, false},
		{`-0.0`, "-0.0", 0, false},
		{`1`, "1", 1, true},
		{`0.5`, "0.5", 0, true},
		{`-1`, "-1", -1, true},
		{`1433333949.0`, "1433333949.0", 1433333949, true},
		{`1.4e9`, "1.4e9", 1400000000, true},
		{`14E+8`, "14E+8", 1400000000, true},
		{`9223372036854775807`, "9223372036854775807", 9223372036854775807, true},
		{`9223372036854775808`, "9223372036854775808", 0, true},
		{`-9223372036854775808`, "-9223372036854775808", -9223372036854775808, true},
		{`1e400`, "1e400", 0, true},
		{`"576460765503091475"`, "576460765503091475", 576460765503091475, false},
		{`" 12 "`, " 12 ", 12, false},
		{`"1.4e9"`, "1.4e9", 1400000000, false},
		{`"abc1"`, "abc1", 0, false},
		{`"true"`, "true", 0, true},
		{`"TRUE"`, "TRUE", 0, true},
		{`"false"`, "false", 0, false},
		{`"1"`, "1", 1, true},
		{`"0"`, "0", 0, false},
		{`"yes"`, "yes", 0, false},
		{`{"a": [1, 2]}`, `{"a": [1, 2]}`, 0, false},
		{`[]`, `[]`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			body := `{"CustomID":` + tt.value + `,"mj_list_id":` + tt.value + `,"blocked":` + tt.value + `}`
			ev := mustDecode(t, []byte(body), 1)[0]
			if ev.CustomID != tt.str || ev.ListID != tt.integer || ev.Blocked != tt.boolean {
				t.Errorf("string %q, int %d, bool %v; want %q, %d, %v",
					ev.CustomID, ev.ListID, ev.Blocked, tt.str, tt.integer, tt.boolean)
			}
		})
	}
}

func TestDecodeDedupKey(t *testing.T) {
	tests := []struct {
		name string
		body string
		same bool
	}{
		{"unsub re-sent with another time", `[{"event":"unsub","time":1,"MessageID":576460765503091475,"email":"a@x.com"},
			{"event":"unsub","time":99,"MessageID":"576460765503091475","email":"a@x.com","ip":"1.2.3.4"}]`, true},
		{"two opens at different times", `[{"event":"open","time":1,"MessageID":576460765503091475,"email":"a@x.com"},
			{"event":"open","time":2,"MessageID":576460765503091475,"email":"a@x.com"}]`, false},
		{"the same open twice", `[{"event":"open","time":1,"MessageID":5,"email":"a@x.com"},
			{"event":"open","time":1.0,"MessageID":5,"email":"a@x.com","agent":"x"}]`, true},
		{"neighbouring ids", `[{"event":"sent","MessageID":576460765503091475,"email":"a@x.com"},
			{"event":"sent","MessageID":576460765503091476,"email":"a@x.com"}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := mustDecode(t, []byte(tt.body), 2)
			if same := ev[0].DedupKey() == ev[1].DedupKey(); same != tt.same {
				t.Errorf("same DedupKey = %v, want %v", same, tt.same)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ body, reason string }{
		{`{`, "not_json"},
		{`abc`, "not_json"},
		{`{"a":1}x`, "not_json"},
		{``, "not_json"},
		{`42`, "not_object"},
		{`"x"`, "not_object"},
		{`null`, "not_object"},
		{`true`, "not_object"},
		{`[{}, 1]`, "not_object"},
		{`[[{}]]`, "not_object"},
	}
	for _, tt := range tests {
		events, err := Decode([]byte(tt.body), received)
		if Reason(err) != tt.reason || events != nil {
			t.Errorf("Decode(%s) = %v, %v; want nil, reason %s", tt.body, events, err, tt.reason)
		}
	}
}

// TestDecodeDeepNesting decodes an unknown field nested as deep as Check
// allows, and writes it back.
func TestDecodeDeepNesting(t *testing.T) {
	depth := maxDepth - 1 // the event object is one level
	body := `{"x":` + strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth) + `}`
	ev := mustDecode(t, []byte(body), 1)[0]
	v, levels := ev.Extra["x"], 0
	for {
		a, ok := v.([]any)
		if !ok {
			break
		}
		levels++
		if len(a) == 0 {
			break
		}
		v = a[0]
	}
	if levels != depth {
		t.Errorf("decoded %d levels, want %d", levels, depth)
	}
	checkRoundTrip(t, ev, received)
}

// DecodeInto reuses dst's storage, and what it decodes into it equals
// Decode's, whatever the previous call left there.
func TestDecodeIntoReuses(t *testing.T) {
	long := []byte(`[{"event":"sent","MessageID":1,"email":"a@x.com","CustomID":"c","mj_list_id":7,"x":1},{"event":"open","MessageID":2,"email":"b@y.com"}]`)
	short := []byte(`{"event":"click","MessageID":3,"url":"https://u"}`)
	at := time.Unix(1700000000, 0)
	buf, err := DecodeInto(nil, long, at)
	if err != nil || len(buf) != 2 {
		t.Fatalf("DecodeInto: %d events, %v", len(buf), err)
	}
	again, err := DecodeInto(buf, short, at)
	if err != nil || len(again) != 1 || &again[0] != &buf[0] {
		t.Fatalf("the second call did not reuse the slice: %d events, %v", len(again), err)
	}
	want, _ := Decode(short, at)
	if !reflect.DeepEqual(again, want) {
		t.Errorf("reused:\n%+v\nwant\n%+v", again, want)
	}
	if _, err := DecodeInto(buf, []byte(`[1]`), at); err == nil {
		t.Error("a bad body decoded into a reused slice")
	}
}
