package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// spikeRules: a 1m window (1s buckets) per domain with hysteresis and a
// resolve message.
const spikeRules = `version: 1
rules:
  - name: spike
    on: [sent, blocked]
    group_by: domain
    window: 1m
    when: count() >= 3 && ratio(event == "blocked") >= 0.6
    resolve_when: ratio(event == "blocked") < 0.4
    do: [slack: {text: "{{ group }}: {{ percent(ratio(event == \"blocked\")) }} of {{ count() }} blocked"}]
    on_resolve: [slack: {text: "{{ group }} recovered: {{ count(event == \"blocked\") }} of {{ count() }}"}]
`

func TestWindow(t *testing.T) {
	runScenarios(t, spikeRules, []scenario{{
		name: "fires when when becomes true, once",
		steps: []step{
			ev("0s", "blocked", 1, "a@x.com"),
			ev("1s", "blocked", 2, "b@x.com"),
			ev("2s", "blocked", 3, "c@x.com"),
			ev("3s", "blocked", 4, "d@x.com"),
			tick("4s"),
		},
		want: []string{`spike@2s#3 key="x.com" slack{"text":"x.com: 100% of 3 blocked"}`},
	}, {
		name: "an event just inside the window counts",
		steps: []step{
			ev("0s", "blocked", 1, "a@x.com"),
			ev("30s", "blocked", 2, "b@x.com"),
			ev("59.999s", "blocked", 3, "c@x.com"),
		},
		want: []string{`spike@59.999s#3 key="x.com" slack{"text":"x.com: 100% of 3 blocked"}`},
	}, {
		name: "an event exactly one window old is out",
		steps: []step{
			ev("0s", "blocked", 1, "a@x.com"),
			ev("30s", "blocked", 2, "b@x.com"),
			ev("1m", "blocked", 3, "c@x.com"),
		},
	}, {
		name: "an event counts until its bucket leaves the window",
		steps: []step{
			ev("0.5s", "blocked", 1, "a@x.com"), // bucket [0s, 1s): out at 1m
			ev("30s", "blocked", 2, "b@x.com"),
			ev("1m", "blocked", 3, "c@x.com"),
		},
	}, {
		name: "resolve_when hysteresis, on_resolve, then fire again",
		steps: []step{
			ev("0s", "blocked", 1, "a@x.com"),
			ev("1s", "blocked", 2, "a@x.com"),
			ev("2s", "blocked", 3, "a@x.com"), // 3/3: fires
			ev("10s", "sent", 4, "a@x.com"),
			ev("11s", "sent", 5, "a@x.com"),
			ev("12s", "sent", 6, "a@x.com"), // 3/6: neither when nor resolve_when
			tick("1m"),                      // 2/5 = 0.4: not < 0.4
			tick("1m1s"),                    // 1/4: resolves
			tick("1m2s"),                    // 0/3
			ev("1m5s", "blocked", 7, "a@x.com"),
			ev("1m6s", "blocked", 8, "a@x.com"),
			ev("1m7s", "blocked", 9, "a@x.com"), // 3/6
			ev("1m8s", "blocked", 10, "a@x.com"),
			ev("1m9s", "blocked", 11, "a@x.com"), // 5/8: fires again
		},
		want: []string{
			`spike@2s#3 key="x.com" slack{"text":"x.com: 100% of 3 blocked"}`,
			`spike@1m1s#8 key="x.com" resolve slack{"text":"x.com recovered: 1 of 4"}`,
			`spike@1m9s#14 key="x.com" slack{"text":"x.com: 62.5% of 8 blocked"}`,
		},
	}, {
		name: "when becomes true on a tick as the window slides",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1s", "sent", 2, "a@x.com"),
			ev("2s", "sent", 3, "a@x.com"),
			ev("30s", "blocked", 4, "a@x.com"),
			ev("31s", "blocked", 5, "a@x.com"),
			ev("32s", "blocked", 6, "a@x.com"), // 3/6
			tick("59s"),
			tick("1m"), // 3/5
		},
		want: []string{`spike@1m#8 key="x.com" slack{"text":"x.com: 60% of 5 blocked"}`},
	}, {
		name: "groups are independent; events without a group are not counted",
		steps: []step{
			ev("0s", "blocked", 1, "a@x.com"),
			ev("0s", "blocked", 2, "a@y.com"),
			ev("1s", "blocked", 3, "no-domain"),
			ev("1s", "blocked", 4, "b@y.com"),
			ev("2s", "blocked", 5, "c@"),
			ev("2s", "blocked", 6, "b@X.COM"),
			ev("3s", "blocked", 7, "c@x.com"),
		},
		want: []string{`spike@3s#7 key="x.com" slack{"text":"x.com: 100% of 3 blocked"}`},
	}})
}

func TestWindowRepeatLimitShadow(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: busy
    mode: shadow
    on: "*"
    group_by: domain
    window: 1h
    when: count() >= 2
    repeat: 10m
    limit: {by: group, max: 2, per: 1h}
    do: [slack: {text: "{{ group }} {{ count() }}"}]
`, []scenario{{
		name: "repeat while true, limited, resolve without on_resolve, fire again",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("1m", "open", 2, "a@x.com"), // fires
			tick("5m"),
			ev("10m59s", "open", 3, "a@x.com"), // 9m59s after: no repeat yet
			tick("11m"),                        // repeats
			tick("21m"),                        // repeats: held back by the limit
			tick("1h"),                         // bucket 0 left: 2, still true; repeat held back
			tick("1h5m"),                       // only the 10m59s open is left: resolves, silently
			ev("1h6m", "open", 4, "a@x.com"),   // 2 again: fires (the 1m firing left the limit)
		},
		want: []string{
			`busy@1m#2 key="x.com" shadow slack{"text":"x.com 2"}`,
			`busy@11m#5 key="x.com" shadow slack{"text":"x.com 3"}`,
			`busy@1h6m#9 key="x.com" shadow slack{"text":"x.com 2"}`,
		},
	}})
}

func TestWindowAggregates(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: aggs
    on: "*"
    if: event != "spam"
    window: 10m
    when: count() >= 4
    do:
      - slack:
          text: "n={{ count() }} blocked={{ count(event == \"blocked\") }} ratio={{ ratio(event == \"blocked\") }} sum={{ sum(mj_list_id) }} avg={{ avg(mj_list_id) }} emails={{ distinct(email) }} domains={{ distinct(domain) }}"
      - http: {path: /x, json: {n: "{{ count() }}", avg: "{{ avg(mj_list_id) }}", hard: "{{ ratio(hard_bounce) }}", group: "{{ group }}"}}
  - name: three-people
    on: open
    window: 10m
    when: distinct(email) >= 3
    do: [slack: {text: "{{ distinct(email) }} of {{ count() }}"}]
`, []scenario{{
		name: "count, count(pred), ratio, sum, avg, distinct",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "mj_list_id", "10"),
			ev("1s", "spam", 1, "a@x.com", "mj_list_id", "1000"), // if false
			ev("2s", "blocked", 2, "b@x.com", "mj_list_id", "20"),
			ev("3s", "sent", 3, "a@x.com", "mj_list_id", "30"),
			ev("4s", "bounce", 4, "c@y.com", "mj_list_id", "41", "hard_bounce", "true"),
		},
		want: []string{
			`aggs@4s#5 key="" slack{"text":"n=4 blocked=1 ratio=0.25 sum=101 avg=25.25 emails=3 domains=2"} http{"json":{"avg":25.25,"group":"","hard":0.25,"n":4},"path":"/x"}`,
		},
	}, {
		name: "distinct forgets values that left the window",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("5m", "open", 2, "b@x.com"),
			ev("10m", "open", 3, "c@x.com"), // a left at 10m: 2 people
			ev("11m", "open", 4, "c@x.com"),
		},
	}, {
		name: "distinct keeps a value seen again",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("5m", "open", 2, "b@x.com"),
			ev("9m", "open", 3, "a@x.com"),
			ev("10m", "open", 4, "c@x.com"), // a (9m), b, c
		},
		want: []string{`three-people@10m#4 key="" slack{"text":"3 of 3"}`},
	}})
}

// A window shorter than a minute has 1s buckets; events must still count
// for the window only, not for 60 buckets of 1s.
func TestWindowShorterThanAMinute(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: burst
    on: blocked
    window: 30s
    when: count() >= 2
    do: [slack: {text: "{{ count() }}"}]
`, []scenario{{
		name:  "inside",
		steps: []step{ev("0s", "blocked", 1, "a@x.com"), ev("29s", "blocked", 2, "a@x.com")},
		want:  []string{`burst@29s#2 key="" slack{"text":2}`},
	}, {
		name:  "outside",
		steps: []step{ev("0s", "blocked", 1, "a@x.com"), ev("40s", "blocked", 2, "a@x.com")},
	}})
}

// Two firings of one group at the same instant (a Mailjet batch shares its
// received time) must still get two ids.
func TestWindowFlapInOneInstant(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: flap
    on: [sent, blocked]
    window: 1m
    when: count(event == "blocked") > count(event == "sent")
    do: [slack: {text: "{{ count() }}"}]
`, []scenario{{
		name: "fire, resolve, fire at one time",
		steps: []step{
			ev("0s", "blocked", 1, "a@x.com"),
			ev("0s", "sent", 2, "a@x.com"),
			ev("0s", "blocked", 3, "b@x.com"),
		},
		want: []string{
			`flap@0s#1 key="" slack{"text":1}`,
			`flap@0s#3 key="" slack{"text":3}`,
		},
	}})
}

// Payload numbers arrive as json.Number; they must work as numbers in
// aggregates, comparisons and helpers.
func TestPayloadNumbers(t *testing.T) {

	rs := parse(t, `version: 1
rules:
  - name: big
    on: open
    if: payload.amount > 10 && payload.n == 3
    do: [slack: {text: "{{ percent(payload.n) }}"}]
  - name: total
    on: open
    window: 1h
    when: sum(payload.amount) > 20
    do: [slack: {text: "{{ sum(payload.amount) }} {{ avg(payload.amount) }}"}]
`)
	var errs []error
	e := engine.New(rs, engine.Options{OnError: func(_ string, err error) { errs = append(errs, err) }})
	got := run(t, e, []step{
		ev("0s", "open", 1, "a@x.com", "Payload", `{"amount": 12.5, "n": 3}`),
		ev("1s", "open", 2, "a@x.com", "Payload", `{"amount": 10, "n": 4}`),
	})
	checkFirings(t, got, []string{
		`big@0s#1 key="" email=a@x.com slack{"text":"300%"}`,
		`total@1s#2 key="" slack{"text":"22.5 11.25"}`,
	})
	if len(errs) > 0 {
		t.Errorf("runtime errors: %v", errs)
	}
}

func TestWindowAggregateErrorSkipsTheEvent(t *testing.T) {
	rs := parse(t, `version: 1
rules:
  - name: doubled
    on: open
    window: 1h
    when: sum(int(CustomID)) >= 10
    do: [slack: {text: "{{ sum(int(CustomID)) }} in {{ count() }}"}]
`)
	var n int
	e := engine.New(rs, engine.Options{OnError: func(string, error) { n++ }})
	got := run(t, e, []step{
		ev("0s", "open", 1, "a@x.com", "CustomID", "4"),
		ev("1s", "open", 2, "a@x.com", "CustomID", "four"), // not counted
		ev("2s", "open", 3, "a@x.com", "CustomID", "6"),
	})
	checkFirings(t, got, []string{`doubled@2s#3 key="" slack{"text":"10 in 2"}`})
	if n != 1 || e.Stats().Rules["doubled"].Errors != 1 {
		t.Errorf("OnError called %d times, stats %+v; want 1 error", n, e.Stats().Rules["doubled"])
	}
}

// Groups that are empty and inactive are dropped on ticks: the state (seen
// through the snapshot's size) goes back to what it was.
func TestWindowDropsEmptyGroups(t *testing.T) {
	e := engine.New(parse(t, `version: 1
rules:
  - name: per-recipient
    on: open
    group_by: email
    window: 10m
    when: count() >= 3
    do: [slack: {text: "{{ group }}"}]
`), engine.Options{DedupHorizon: time.Minute})
	feed(e, tick("0s"), 1)
	empty := len(e.Snapshot())
	for i := range 1000 {
		feed(e, ev("1s", "open", int64(i+1), fmt.Sprintf("u%d@x.com", i)), uint64(i+2))
	}
	full := len(e.Snapshot())
	feed(e, tick("11m"), 2000)
	after := len(e.Snapshot())
	if full < empty+1000*50 || after > empty+16 {
		t.Errorf("snapshot sizes: empty %d, 1000 groups %d, after the window %d: want the groups dropped", empty, full, after)
	}
}

// A tick re-evaluates a group whose counts did not move only when its
// conditions can change without them: when they read now(), or to repeat.
// Groups that neither moved nor can change are not evaluated again, and
// the firings are the same as if they were.
func TestWindowTickWithoutNewCounts(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: late
    on: sent
    group_by: domain
    window: 1h
    when: count() >= 1 && now().Minute() >= 30
    do: [slack: {text: "{{ group }} at {{ now().Minute() }}"}]
  - name: busy
    on: sent
    group_by: domain
    window: 1h
    when: count() >= 2
    repeat: 20m
    do: [slack: {text: "{{ group }}: {{ count() }}"}]
  - name: pair
    on: sent
    group_by: domain
    window: 1h
    when: count() >= 2
    do: [slack: {text: "{{ group }}: a pair"}]
    on_resolve: [slack: {text: "{{ group }}: quiet"}]
`, []scenario{{
		name: "now() turns when true on a tick",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			tick("10m"),
			tick("29m"),
			tick("30m"),
			tick("31m"),
		},
		want: []string{`late@30m#4 key="x.com" slack{"text":"x.com at 30"}`},
	}, {
		name: "repeat on ticks; resolve when the counts leave the window",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1s", "sent", 2, "b@x.com"),
			tick("10m"),
			tick("20m"),
			tick("30m"),
			tick("40m1s"),
			tick("1h0m1s"),
			tick("1h30m"),
		},
		want: []string{
			`busy@1s#2 key="x.com" slack{"text":"x.com: 2"}`,
			`pair@1s#2 key="x.com" slack{"text":"x.com: a pair"}`,
			`late@30m#5 key="x.com" slack{"text":"x.com at 30"}`,
			`busy@30m#5 key="x.com" slack{"text":"x.com: 2"}`,
			`pair@1h1s#7 key="x.com" resolve slack{"text":"x.com: quiet"}`,
		},
	}})
}
