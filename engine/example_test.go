package engine_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// exampleConnections are the connections rules.example.yaml expects.
var exampleConnections = map[string]string{"crm": "http", "slack": "slack", "mailjet": "mailjet"}

func loadExample(t testing.TB) *engine.RuleSet {
	t.Helper()
	rs, err := engine.LoadFile("../rules.example.yaml", engine.ParseOptions{Connections: exampleConnections})
	if err != nil {
		t.Fatalf("rules.example.yaml:\n%v", err)
	}
	return rs
}

func TestRulesExampleLoads(t *testing.T) {
	rs := loadExample(t)
	want := map[string]engine.Kind{
		"open-discount":    engine.KindSequence,
		"no-open-reminder": engine.KindAbsence,
		"blocked-spike":    engine.KindWindow,
		"sent-milestone":   engine.KindEvery,
		"crm-unsubscribe":  engine.KindPlain,
		"crm-hard-bounce":  engine.KindPlain,
	}
	if len(rs.Rules) != len(want) {
		t.Errorf("%d rules, want %d", len(rs.Rules), len(want))
	}
	for name, kind := range want {
		if r := rs.Rule(name); r == nil || r.Kind != kind || !r.Enabled || r.Shadow {
			t.Errorf("rule %s = %+v, want an enabled live %v rule", name, r, kind)
		}
	}
	if len(rs.Warnings) != 0 {
		t.Errorf("warnings: %q", rs.Warnings)
	}
}

// TestRulesExampleScenario replays the scenarios rules.example.yaml was
// written for and checks every firing.
func TestRulesExampleScenario(t *testing.T) {
	steps := []step{
		ev("0s", "sent", 1001, "a@example.com", "CustomID", "promo-spring"),
		ev("0s", "sent", 1002, "b@example.com", "CustomID", "promo-spring"),
		ev("0s", "sent", 1003, "c@example.com", "CustomID", "newsletter"),
		ev("2h", "open", 1001, "a@example.com", "CustomID", "promo-spring"), // discount
		ev("3h", "open", 1001, "a@example.com", "CustomID", "promo-spring"), // limited: one a month
		ev("5h", "open", 1003, "c@example.com", "CustomID", "newsletter"),   // not a promo
		tick("24h"), // b did not open: reminder
		ev("25h", "unsub", 1004, "d+news@example.com", "mj_list_id", "77"),
		ev("25h", "spam", 1005, "e@example.com"),
		ev("25h", "bounce", 1006, "f@example.com", "hard_bounce", "true", "error", "user unknown", "error_related_to", "recipient"),
		ev("25h", "bounce", 1007, "g@example.com", "error", "mailbox full"), // soft: nothing
	}
	// A blocked spike at gmail.test: 40 sent then 60 blocked within 15
	// minutes reach 100 messages with 60% blocked on the last one.
	id := int64(2000)
	for i := range 100 {
		typ := "sent"
		if i >= 40 {
			typ = "blocked"
		}
		id++
		steps = append(steps, ev(fmt.Sprintf("26h%ds", i), typ, id, fmt.Sprintf("u%d@gmail.test", i)))
	}
	steps = append(steps, tick("26h16m40s")) // the window slid past: recovered
	// 3 + 40 sends so far; 9,957 more reach the 10,000th.
	for i := range 9957 {
		id++
		steps = append(steps, ev(fmt.Sprintf("27h%dms", i*10), "sent", id, "bulk"+strconv.Itoa(i)+"@bulk.test"))
	}
	e := engine.New(loadExample(t), engine.Options{})
	got := run(t, e, steps)
	last := len(steps)
	checkFirings(t, got, []string{
		`open-discount@2h#4 key="1001" email=a@example.com mailjet{"template_id":4242,"to":"a@example.com","variables":{"campaign":"promo-spring","code":"OPEN24"}}`,
		`no-open-reminder@24h#7 key="1002" email=b@example.com mailjet{"template_id":4243,"to":"b@example.com"}`,
		`crm-unsubscribe@25h#8 key="" email=d+news@example.com http(crm){"json":{"email":"d+news@example.com","list":77,"reason":"unsub"},"method":"POST","path":"/contacts/d%2Bnews%40example.com/unsubscribe"}`,
		`crm-unsubscribe@25h#9 key="" email=e@example.com http(crm){"json":{"email":"e@example.com","list":0,"reason":"spam"},"method":"POST","path":"/contacts/e%40example.com/unsubscribe"}`,
		`crm-hard-bounce@25h#10 key="" email=f@example.com http(crm){"json":{"email":"f@example.com","error":"user unknown","related_to":"recipient"},"method":"POST","path":"/contacts/f%40example.com/bounced"}`,
		`blocked-spike@26h1m39s#111 key="gmail.test" slack{"text":"60% of mail to gmail.test blocked in the last 15 minutes (100 messages)"}`,
		`blocked-spike@26h16m40s#112 key="gmail.test" resolve slack{"text":"gmail.test recovered: 0% blocked"}`,
		`sent-milestone@27h1m39.56s#` + strconv.Itoa(last) + ` key="" email=bulk9956@bulk.test slack{"text":"10000 emails sent"}`,
	})
	st := e.Stats()
	if s := st.Rules["open-discount"]; s.Matched != 2 || s.Fired != 1 || s.Suppressed != 1 {
		t.Errorf("open-discount stats = %+v, want 2 matched, 1 fired, 1 suppressed", s)
	}
	if st.Errors != 0 {
		t.Errorf("%d runtime errors", st.Errors)
	}
}

// Example shows the engine's life: parse rules, feed events and clock
// ticks, read the firings.
func Example() {
	rs, err := engine.Parse("rules.yaml", []byte(`version: 1
rules:
  - name: no-open-reminder
    on: sent
    unless: {event: open, within: 24h}
    do:
      - mailjet: {to: "{{ email }}", template_id: 4243}
  - name: crm-unsubscribe
    on: unsub
    do:
      - http: {method: POST, path: "/contacts/{{ urlquery(email) }}/unsubscribe"}
`), engine.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := engine.New(rs, engine.Options{})
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	printFirings := func(fs []engine.Firing) {
		for _, f := range fs {
			fmt.Println(f.At.Format(time.Kitchen), f.Rule, f.Key, f.Actions[0].Kind, string(f.Actions[0].Params))
		}
	}
	// Events carry the time herald received them: the engine's clock.
	printFirings(e.Event(&engine.Event{Type: "sent", MessageID: 1, Email: "ann@example.com", Received: start}, 1))
	printFirings(e.Event(&engine.Event{Type: "sent", MessageID: 2, Email: "bob@example.com", Received: start}, 2))
	printFirings(e.Event(&engine.Event{Type: "open", MessageID: 1, Email: "ann@example.com", Received: start.Add(time.Hour)}, 3))
	printFirings(e.Event(&engine.Event{Type: "unsub", MessageID: 3, Email: "cy@example.com", Received: start.Add(2 * time.Hour)}, 4))
	// Ticks move the clock when no event comes: bob's timer ends.
	printFirings(e.Tick(start.Add(24*time.Hour), 5))
	// Output:
	// 11:00AM crm-unsubscribe  http {"method":"POST","path":"/contacts/cy%40example.com/unsubscribe"}
	// 9:00AM no-open-reminder 2 mailjet {"template_id":4243,"to":"bob@example.com"}
}

// ExampleParse shows load errors: every problem of the file, each with its
// position, rule and key, and expr's caret under expression errors.
func ExampleParse() {
	_, err := engine.Parse("rules.yaml", []byte(`version: 1
rules:
  - name: spike
    on: [sent, blocked]
    window: 15m
    when: count() >= 100 && email != ""
    do: [slack: {text: "{{ group }} blocked"}]
  - name: spike
    on: open
    if: CustomID
    do: [slack: {txt: hi}]
`), engine.ParseOptions{})
	for _, le := range engine.AsLoadErrors(err) {
		fmt.Printf("%d:%d %s %s: %s\n", le.Line, le.Column, le.Rule, le.Key, le.Message)
	}
	// Output:
	// 6:29 spike when: email is a field of one event: in window rules use it inside an aggregate, e.g. count(email == ...)
	// 8:5 spike name: duplicate rule name "spike"
	// 10:9 spike if: expected bool, but got string
	// 11:17 spike do[0].slack: text (or blocks) is required
	// 11:18 spike do[0].slack: unknown parameter "txt" (slack takes blocks, channel, icon_emoji, text, username)
}

// ExampleEngine_Reload shows that a reload keeps the state of rules whose
// conditions did not change: the milestone counter goes on.
func ExampleEngine_Reload() {
	rules := func(text string) *engine.RuleSet {
		rs, err := engine.Parse("rules.yaml", []byte(`version: 1
rules:
  - name: milestone
    on: sent
    every: 2
    do: [slack: {text: "`+text+`"}]
`), engine.ParseOptions{})
		if err != nil {
			panic(err)
		}
		return rs
	}
	e := engine.New(rules("{{ count }} sent"), engine.Options{})
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	e.Event(&engine.Event{Type: "sent", MessageID: 1, Email: "ann@example.com", Received: at}, 1)
	e.Reload(rules("{{ count }} emails sent"))
	for _, f := range e.Event(&engine.Event{Type: "sent", MessageID: 2, Email: "bob@example.com", Received: at}, 2) {
		fmt.Println(f.Rule, string(f.Actions[0].Params))
	}
	// Output:
	// milestone {"text":"2 emails sent"}
}
