package engine_test

import (
	"strings"
	"testing"

	"github.com/heraldmail/herald/engine"
)

func TestEvery(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: milestone
    on: sent
    every: 2
    do: [slack: {text: "{{ count }} sent"}]
  - name: per-domain
    mode: shadow
    on: [sent, open]
    if: event == "sent"
    group_by: domain
    every: 3
    do: [slack: {text: "{{ count }} to {{ group }} (last {{ email }})"}]
  - name: per-shop
    on: open
    group_by: payload.shop
    every: 2
    do: [slack: {text: "{{ count }} opens in {{ group }}"}]
`, []scenario{{
		name: "every 2 over 7 events, every 3 per group",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1s", "sent", 2, "b@y.com"),
			ev("2s", "sent", 3, "c@x.com"),
			ev("3s", "sent", 4, "no-domain"), // counted by milestone only
			ev("4s", "sent", 5, "d@X.com"),
			ev("5s", "open", 6, "e@x.com"), // if false
			ev("6s", "sent", 7, "e@y.com"),
			ev("7s", "sent", 8, "f@x.com"),
			ev("7s", "sent", 8, "f@x.com"), // duplicate: not counted
		},
		want: []string{
			`milestone@1s#2 key="" email=b@y.com slack{"text":"2 sent"}`,
			`milestone@3s#4 key="" email=no-domain slack{"text":"4 sent"}`,
			`per-domain@4s#5 key="x.com" email=d@X.com shadow slack{"text":"3 to x.com (last d@X.com)"}`,
			`milestone@6s#7 key="" email=e@y.com slack{"text":"6 sent"}`,
		},
	}, {
		name: "a missing or empty group is not counted",
		steps: []step{
			ev("0s", "open", 1, "a@x.com", "Payload", `{"shop": "s1"}`),
			ev("1s", "open", 2, "a@x.com"),                               // no payload
			ev("2s", "open", 3, "a@x.com", "Payload", `{"shop": ""}`),    // empty
			ev("3s", "open", 4, "a@x.com", "Payload", `{"other": "s1"}`), // missing
			ev("4s", "open", 5, "b@x.com", "Payload", `{"shop": "s2"}`),
			ev("5s", "open", 6, "b@x.com", "Payload", `{"shop": "s1"}`),
		},
		want: []string{`per-shop@5s#6 key="s1" email=b@x.com slack{"text":"2 opens in s1"}`},
	}})
}

func TestEveryLimit(t *testing.T) {
	e := engine.New(parse(t, `version: 1
rules:
  - name: each-open
    on: open
    every: 1
    limit: {by: email, max: 1, per: 1h}
    do: [slack: {text: "{{ count }}"}]
`), engine.Options{})
	got := run(t, e, []step{
		ev("0s", "open", 1, "a@x.com"),
		ev("1m", "open", 2, "a@x.com"),
		ev("2m", "open", 3, "a@x.com"),
		ev("3m", "open", 4, "b@x.com"),
		ev("1h", "open", 5, "a@x.com"),
	})
	checkFirings(t, got, []string{
		`each-open@0s#1 key="" email=a@x.com slack{"text":1}`,
		`each-open@3m#4 key="" email=b@x.com slack{"text":4}`,
		`each-open@1h#5 key="" email=a@x.com slack{"text":5}`,
	})
	if st := e.Stats().Rules["each-open"]; st.Suppressed != 2 {
		t.Errorf("suppressed = %d, want 2", st.Suppressed)
	}
}

// A rule that is disabled and enabled again starts counting from zero; its
// new firings must not reuse the ids of the old ones, or the action queue
// drops them as replays.
func TestEveryIDsAfterRestart(t *testing.T) {
	const rules = `version: 1
rules:
  - {name: pairs, on: sent, every: 2, do: [slack: {text: "{{ count }}"}]}
`
	e := engine.New(parse(t, rules), engine.Options{})
	got := run(t, e, []step{ev("0s", "sent", 1, "a@x.com"), ev("1s", "sent", 2, "a@x.com")})
	e.Reload(parse(t, strings.Replace(rules, "{name: pairs,", "{name: pairs, enabled: false,", 1)))
	e.Reload(parse(t, rules))
	for i, s := range []step{ev("2s", "sent", 3, "a@x.com"), ev("3s", "sent", 4, "a@x.com")} {
		got = append(got, feed(e, s, uint64(i+3))...)
	}
	checkFirings(t, got, []string{
		`pairs@1s#2 key="" email=a@x.com slack{"text":2}`,
		`pairs@3s#4 key="" email=a@x.com slack{"text":2}`,
	})
}
