package engine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

const plainRules = `version: 1
vars: {greeting: hello}
rules:
  - name: clicks
    on: click
    if: url contains "pricing"
    do:
      - slack: {text: "{{ email }} clicked {{ url }} <{{ vars.greeting }}>"}
  - name: unsubs
    on: [unsub, spam]
    do:
      - http:
          connection: crm
          method: POST
          path: /contacts/{{ urlquery(email) }}/unsubscribe
          json: {email: "{{ email }}", reason: "{{ event }}", list: "{{ mj_list_id }}"}
  - name: watch
    on: "*"
    if: CustomID == "watch"
    do: [slack: {text: "{{ event }} {{ MessageID }}"}]
`

func TestPlain(t *testing.T) {
	runScenarios(t, plainRules, []scenario{{
		name: "fires per matching event",
		steps: []step{
			ev("0s", "click", 1, "a@x.com", "url", "https://x.com/pricing"),
			ev("1m", "click", 1, "a@x.com", "url", "https://x.com/blog"),
			ev("2m", "click", 2, "b@y.com", "url", "https://x.com/pricing?a=1&b=<2>"),
		},
		want: []string{
			`clicks@0s#1 key="" email=a@x.com slack{"text":"a@x.com clicked https://x.com/pricing <hello>"}`,
			`clicks@2m#3 key="" email=b@y.com slack{"text":"b@y.com clicked https://x.com/pricing?a=1&amp;b=&lt;2&gt; <hello>"}`,
		},
	}, {
		name: "list of types, typed whole-expression values",
		steps: []step{
			ev("0s", "unsub", 1, "a+b@x.com", "mj_list_id", "42"),
			ev("1m", "spam", 2, "c@x.com"),
			ev("2m", "open", 3, "d@x.com"),
		},
		want: []string{
			`unsubs@0s#1 key="" email=a+b@x.com http(crm){"json":{"email":"a+b@x.com","list":42,"reason":"unsub"},"method":"POST","path":"/contacts/a%2Bb%40x.com/unsubscribe"}`,
			`unsubs@1m#2 key="" email=c@x.com http(crm){"json":{"email":"c@x.com","list":0,"reason":"spam"},"method":"POST","path":"/contacts/c%40x.com/unsubscribe"}`,
		},
	}, {
		name: "star matches every type, unknown ones too",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "watch"),
			ev("1s", "custom-type", 2, "a@x.com", "CustomID", "watch"),
			ev("2s", "sent", 3, "a@x.com", "CustomID", "other"),
		},
		want: []string{
			`watch@0s#1 key="" email=a@x.com slack{"text":"sent 1"}`,
			`watch@1s#2 key="" email=a@x.com slack{"text":"custom-type 2"}`,
		},
	}, {
		name: "duplicates match nothing",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "watch"),
			ev("1s", "sent", 1, "a@x.com", "CustomID", "watch"), // duplicate
			ev("2s", "sent", 1, "b@x.com", "CustomID", "watch"), // another recipient
			ev("3s", "open", 1, "a@x.com", "CustomID", "watch", "time", "100"),
			ev("4s", "open", 1, "a@x.com", "CustomID", "watch", "time", "100"), // duplicate
			ev("5s", "open", 1, "a@x.com", "CustomID", "watch", "time", "101"), // another open
			ev("6s", "open", 1, "a@x.com", "CustomID", "watch", "time", "101", "url", "u"),
			ev("7s", "sent", 0, "a@x.com", "CustomID", "watch", "Message_GUID", "g1"),
			ev("8s", "sent", 0, "a@x.com", "CustomID", "watch", "Message_GUID", "g1"), // duplicate
			ev("9s", "sent", 0, "a@x.com", "CustomID", "watch", "Message_GUID", "g2"),
		},
		want: []string{
			`watch@0s#1 key="" email=a@x.com slack{"text":"sent 1"}`,
			`watch@2s#3 key="" email=b@x.com slack{"text":"sent 1"}`,
			`watch@3s#4 key="" email=a@x.com slack{"text":"open 1"}`,
			`watch@5s#6 key="" email=a@x.com slack{"text":"open 1"}`,
			`watch@6s#7 key="" email=a@x.com slack{"text":"open 1"}`,
			`watch@7s#8 key="" email=a@x.com slack{"text":"sent 0"}`,
			`watch@9s#10 key="" email=a@x.com slack{"text":"sent 0"}`,
		},
	}, {
		name: "send test events match nothing",
		steps: []step{
			ev("0s", "sent", 0, "", "CustomID", "watch"),
			ev("1s", "click", 0, "", "url", "https://x.com/pricing"),
		},
	}, {
		name: "a late event is processed at the clock's time",
		steps: []step{
			ev("10m", "unsub", 1, "a@x.com"),
			ev("5m", "unsub", 2, "b@x.com"),
		},
		want: []string{
			`unsubs@10m#1 key="" email=a@x.com http(crm){"json":{"email":"a@x.com","list":0,"reason":"unsub"},"method":"POST","path":"/contacts/a%40x.com/unsubscribe"}`,
			`unsubs@10m#2 key="" email=b@x.com http(crm){"json":{"email":"b@x.com","list":0,"reason":"unsub"},"method":"POST","path":"/contacts/b%40x.com/unsubscribe"}`,
		},
	}})
}

func TestDedupHorizon(t *testing.T) {
	rules := `version: 1
rules:
  - {name: sends, on: sent, do: [slack: {text: "{{ MessageID }}"}]}
`
	steps := []step{
		ev("0s", "sent", 1, "a@x.com"),
		ev("59m59s", "sent", 1, "a@x.com"), // within the horizon: duplicate
		ev("1h", "sent", 1, "a@x.com"),     // the horizon excludes its end
		ev("1h30m", "sent", 1, "a@x.com"),  // duplicate of the 1h one
	}
	for _, c := range []struct {
		name    string
		horizon time.Duration
		want    []string
	}{
		{"1h", time.Hour, []string{
			`sends@0s#1 key="" email=a@x.com slack{"text":1}`,
			`sends@1h#3 key="" email=a@x.com slack{"text":1}`,
		}},
		{"default 24h", 0, []string{
			`sends@0s#1 key="" email=a@x.com slack{"text":1}`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := engine.New(parse(t, rules), engine.Options{DedupHorizon: c.horizon})
			if got := showAll(run(t, e, steps)); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("firings:\n got: %s\nwant: %s", listing(got), listing(c.want))
			}
			if got, want := e.Stats().Duplicates, uint64(4-len(c.want)); got != want {
				t.Errorf("Stats().Duplicates = %d, want %d", got, want)
			}
		})
	}
}

// An event seen again after the dedup horizon is not a duplicate and fires
// again; its firing must not reuse the first firing's id, or the action
// queue drops it as a replay.
func TestFiringIDAfterDedupHorizon(t *testing.T) {

	e := engine.New(parse(t, `version: 1
rules:
  - {name: sends, on: sent, do: [slack: {text: "{{ MessageID }}"}]}
`), engine.Options{DedupHorizon: time.Hour})
	got := run(t, e, []step{ev("0s", "sent", 1, "a@x.com"), ev("2h", "sent", 1, "a@x.com")})
	if len(got) != 2 {
		t.Fatalf("got %d firings, want 2", len(got))
	}
	checkIDs(t, got)
}

func TestStats(t *testing.T) {
	e := engine.New(parse(t, plainRules), engine.Options{})
	run(t, e, []step{
		ev("0s", "click", 1, "a@x.com", "url", "https://x.com/pricing"),
		ev("1s", "click", 1, "a@x.com", "url", "https://x.com/blog", "time", "5"),
		ev("2s", "click", 1, "a@x.com", "url", "https://x.com/blog", "time", "5"), // duplicate
		ev("3s", "sent", 0, ""), // send test
		ev("4s", "unsub", 2, "b@x.com"),
	})
	got := e.Stats()
	want := engine.Stats{Events: 3, Duplicates: 1, SendTests: 1, Rules: map[string]engine.RuleStats{
		"clicks": {Matched: 1, Fired: 1},
		"unsubs": {Matched: 1, Fired: 1},
	}}
	if mustJSON(t, got) != mustJSON(t, want) {
		t.Errorf("Stats() = %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
	if now := e.Now(); !now.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("Now() = %v, want t0+4s", now)
	}
}

func TestRuntimeErrorIsCountedAndContained(t *testing.T) {
	rules := `version: 1
rules:
  - name: fragile
    on: open
    if: int(CustomID) > 3
    do: [slack: {text: "big"}]
  - name: fragile-template
    on: open
    do: [slack: {text: "{{ int(CustomID) * 2 }}"}]
  - name: sturdy
    on: open
    do: [slack: {text: "{{ CustomID }}"}]
`
	type report struct {
		rule string
		err  error
	}
	var reports []report
	e := engine.New(parse(t, rules), engine.Options{OnError: func(rule string, err error) {
		reports = append(reports, report{rule, err})
	}})
	got := run(t, e, []step{
		ev("0s", "open", 1, "a@x.com", "CustomID", "7"),
		ev("1s", "open", 2, "a@x.com", "CustomID", "seven"),
		ev("2s", "open", 3, "a@x.com", "CustomID", "8"),
	})
	checkFirings(t, got, []string{
		`fragile@0s#1 key="" email=a@x.com slack{"text":"big"}`,
		`fragile-template@0s#1 key="" email=a@x.com slack{"text":14}`,
		`sturdy@0s#1 key="" email=a@x.com slack{"text":"7"}`,
		`sturdy@1s#2 key="" email=a@x.com slack{"text":"seven"}`,
		`fragile@2s#3 key="" email=a@x.com slack{"text":"big"}`,
		`fragile-template@2s#3 key="" email=a@x.com slack{"text":16}`,
		`sturdy@2s#3 key="" email=a@x.com slack{"text":"8"}`,
	})
	st := e.Stats()
	if st.Errors != 2 || st.Rules["fragile"].Errors != 1 || st.Rules["fragile-template"].Errors != 1 || st.Rules["sturdy"].Errors != 0 {
		t.Errorf("Stats() errors: %s", mustJSON(t, st))
	}
	if len(reports) != 2 || reports[0].rule != "fragile" || reports[1].rule != "fragile-template" {
		t.Fatalf("OnError calls = %v, want fragile then fragile-template", reports)
	}
	for _, r := range reports {
		if r.err == nil || !strings.Contains(r.err.Error(), "int(CustomID)") {
			t.Errorf("OnError(%s, %v): want the failing expression named", r.rule, r.err)
		}
	}
}

func TestShadowAndDisabled(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: shadowed
    mode: shadow
    on: open
    do: [slack: {text: "{{ email }}"}]
  - name: live
    mode: live
    on: open
    do: [slack: {text: "{{ email }}"}]
  - name: off
    enabled: false
    on: open
    do: [slack: {text: "{{ email }}"}]
`, []scenario{{
		name:  "shadow firings are marked, disabled rules do nothing",
		steps: []step{ev("0s", "open", 1, "a@x.com")},
		want: []string{
			`shadowed@0s#1 key="" email=a@x.com shadow slack{"text":"a@x.com"}`,
			`live@0s#1 key="" email=a@x.com slack{"text":"a@x.com"}`,
		},
	}})
}

func TestPlainLimit(t *testing.T) {
	rules := `version: 1
rules:
  - name: capped
    on: open
    limit: {by: email, max: 2, per: 1h}
    do: [slack: {text: "{{ email }}"}]
  - name: global
    on: open
    limit: {max: 1, per: 30m}
    do: [slack: {text: "{{ email }}"}]
`
	e := engine.New(parse(t, rules), engine.Options{})
	got := run(t, e, []step{
		ev("0s", "open", 1, "a@x.com"),
		ev("10m", "open", 2, "a@x.com"),
		ev("20m", "open", 3, "a@x.com"), // third in the hour: held back
		ev("20m", "open", 4, "b@x.com"), // another key
		ev("1h", "open", 5, "a@x.com"),  // the 0s firing left exactly now
		ev("1h5m", "open", 6, "a@x.com"),
		ev("1h10m", "open", 7, "a@x.com"), // 10m firing left at 1h10m
	})
	checkFirings(t, got, []string{
		`capped@0s#1 key="" email=a@x.com slack{"text":"a@x.com"}`,
		`global@0s#1 key="" email=a@x.com slack{"text":"a@x.com"}`,
		`capped@10m#2 key="" email=a@x.com slack{"text":"a@x.com"}`,
		`capped@20m#4 key="" email=b@x.com slack{"text":"b@x.com"}`,
		`capped@1h#5 key="" email=a@x.com slack{"text":"a@x.com"}`,
		`global@1h#5 key="" email=a@x.com slack{"text":"a@x.com"}`,
		`capped@1h10m#7 key="" email=a@x.com slack{"text":"a@x.com"}`,
	})
	st := e.Stats().Rules
	if st["capped"].Suppressed != 2 || st["capped"].Fired != 5 || st["capped"].Matched != 7 {
		t.Errorf("capped stats = %+v, want 7 matched, 5 fired, 2 suppressed", st["capped"])
	}
	if st["global"].Suppressed != 5 || st["global"].Fired != 2 {
		t.Errorf("global stats = %+v, want 2 fired, 5 suppressed", st["global"])
	}
}

// The engine must not modify the events it is given: the caller may keep
// them (the /api/events ring, a replay's input) and read them from other
// goroutines.
func TestEventInputUnchanged(t *testing.T) {
	e := engine.New(parse(t, `version: 1
rules:
  - {name: any, on: "*", if: payload.n == 3 && extra.x == 2, do: [slack: {text: "{{ payload.n }}"}]}
`), engine.Options{})
	in := &engine.Event{Type: "open", MessageID: 1, Email: "a@x.com", Received: t0,
		PayloadMap: map[string]any{"n": json.Number("3"), "list": []any{json.Number("1.5")}},
		Extra:      map[string]any{"x": json.Number("2")}}
	before := fmt.Sprintf("%#v %#v", in.PayloadMap, in.Extra)
	fs := e.Event(in, 1)
	if len(fs) != 1 {
		t.Errorf("%d firings, want 1 (numbers must compare as numbers)", len(fs))
	}
	if after := fmt.Sprintf("%#v %#v", in.PayloadMap, in.Extra); after != before {
		t.Errorf("Event changed its input:\nbefore %s\nafter  %s", before, after)
	}
}
