package engine_test

import (
	"strings"
	"testing"

	"github.com/heraldmail/herald/engine"
)

// TestReload feeds `before`, reloads with the rules rewritten by edit, feeds
// `after`, and compares the firings of `after`.
func TestReload(t *testing.T) {
	const every = `version: 1
vars: {n: 3, label: sent}
rules:
  - name: milestone
    on: sent
    every: 3
    do: [slack: {text: "{{ count }} {{ vars.label }}"}]
`
	const window = `version: 1
rules:
  - name: spike
    on: [sent, blocked]
    window: 1h
    when: count(event == "blocked") >= 3
    do: [slack: {text: "{{ count() }} seen"}]
`
	const sequence = `version: 1
rules:
  - name: opened
    on: open
    after: {event: sent, within: 1h}
    do: [slack: {text: "opened {{ prev.CustomID }}"}]
  - name: unopened
    on: sent
    unless: {event: open, within: 1h}
    do: [slack: {text: "not opened {{ CustomID }}"}]
`
	const limited = `version: 1
rules:
  - name: once
    on: open
    limit: {by: email, max: 1, per: 720h}
    do: [slack: {text: "{{ email }}"}]
`
	sends := []step{ev("0s", "sent", 1, "a@x.com"), ev("1s", "sent", 2, "a@x.com")}
	blocks := []step{ev("0s", "blocked", 1, "a@x.com"), ev("1s", "blocked", 2, "a@x.com")}
	for _, c := range []struct {
		name          string
		rules         string
		edit          func(string) string
		before, after []step
		want          []string
		bug           string
	}{{
		name:   "unchanged: the every counter continues",
		rules:  every,
		edit:   func(s string) string { return s },
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
		want:   []string{`milestone@2s#3 key="" email=a@x.com slack{"text":"3 sent"}`},
	}, {
		name:  "changed action text keeps state",
		rules: every,
		edit: func(s string) string {
			return strings.Replace(s, "{{ count }} {{ vars.label }}", "{{ count }} emails", 1)
		},
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
		want:   []string{`milestone@2s#3 key="" email=a@x.com slack{"text":"3 emails"}`},
	}, {
		name:  "an action text that reads another field keeps state",
		rules: every,
		edit: func(s string) string {
			return strings.Replace(s, "{{ count }} {{ vars.label }}", "{{ count }} to {{ domain }}", 1)
		},
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
		want:   []string{`milestone@2s#3 key="" email=a@x.com slack{"text":"3 to x.com"}`},
	}, {
		name:  "an action text that reads another field keeps the limit",
		rules: limited,
		edit: func(s string) string {
			return strings.Replace(s, `text: "{{ email }}"`, `text: "{{ email }} {{ CustomID }}"`, 1)
		},
		before: []step{ev("0s", "open", 1, "a@x.com")},
		after:  []step{ev("1h", "open", 2, "a@x.com")},
	}, {
		name:   "changed var used only by the action keeps state",
		rules:  every,
		edit:   func(s string) string { return strings.Replace(s, "label: sent", "label: mails", 1) },
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
		want:   []string{`milestone@2s#3 key="" email=a@x.com slack{"text":"3 mails"}`},
	}, {
		name:  "changed description and mode keep state",
		rules: every,
		edit: func(s string) string {
			return strings.Replace(s, "on: sent", "on: sent\n    mode: shadow\n    description: new", 1)
		},
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
		want:   []string{`milestone@2s#3 key="" email=a@x.com shadow slack{"text":"3 sent"}`},
	}, {
		name:   "changed every resets",
		rules:  every,
		edit:   func(s string) string { return strings.Replace(s, "every: 3", "every: 2", 1) },
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com"), ev("3s", "sent", 4, "a@x.com")},
		want:   []string{`milestone@3s#4 key="" email=a@x.com slack{"text":"2 sent"}`},
	}, {
		name:   "changed if resets",
		rules:  every,
		edit:   func(s string) string { return strings.Replace(s, "on: sent", "on: sent\n    if: email != \"\"", 1) },
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
	}, {
		name:   "unchanged window keeps its buckets",
		rules:  window,
		edit:   func(s string) string { return strings.Replace(s, "seen", "so far", 1) },
		before: blocks,
		after:  []step{ev("2s", "blocked", 3, "a@x.com")},
		want:   []string{`spike@2s#3 key="" slack{"text":"3 so far"}`},
	}, {
		name:   "changed when resets",
		rules:  window,
		edit:   func(s string) string { return strings.Replace(s, ">= 3", ">= 2", 1) },
		before: blocks,
		after:  []step{ev("2s", "blocked", 3, "a@x.com")},
	}, {
		name:   "changed aggregate argument in when resets",
		rules:  window,
		edit:   func(s string) string { return strings.Replace(s, `event == "blocked"`, `event == "sent"`, 1) },
		before: blocks,
		after:  []step{ev("2s", "sent", 3, "a@x.com"), ev("3s", "sent", 4, "a@x.com")},
	}, {
		// A new aggregate has no history: the window starts over (so one
		// more block is not enough to fire).
		name:  "an aggregate added to the action text resets the window",
		rules: window,
		edit: func(s string) string {
			return strings.Replace(s, "{{ count() }} seen", "{{ count() }} seen, {{ sum(mj_list_id) }}", 1)
		},
		before: blocks,
		after:  []step{ev("2s", "blocked", 3, "a@x.com", "mj_list_id", "5")},
	}, {
		name:   "a removed rule's state is dropped",
		rules:  every,
		edit:   nil, // reload without the rule, then with it again
		before: sends,
		after:  []step{ev("2s", "sent", 3, "a@x.com")},
	}, {
		name:   "pending sequences and absence timers survive an unchanged reload",
		rules:  sequence,
		edit:   func(s string) string { return strings.Replace(s, "not opened", "unopened", 1) },
		before: []step{ev("0s", "sent", 1, "a@x.com", "CustomID", "c1"), ev("1s", "sent", 2, "b@x.com", "CustomID", "c2")},
		after:  []step{ev("10m", "open", 1, "a@x.com"), tick("1h1s")},
		want: []string{
			`opened@10m#3 key="1" email=a@x.com slack{"text":"opened c1"}`,
			`unopened@1h1s#4 key="2" email=b@x.com slack{"text":"unopened c2"}`,
		},
	}, {
		// Predecessors do not depend on the rule's if, on or actions: a
		// changed sequence rule still finds the sends kept before.
		name:   "a sequence rule with a changed if keeps the predecessors",
		rules:  sequence,
		edit:   func(s string) string { return strings.Replace(s, "on: open", "on: open\n    if: email != \"\"", 1) },
		before: []step{ev("0s", "sent", 1, "a@x.com", "CustomID", "c1")},
		after:  []step{ev("10m", "open", 1, "a@x.com")},
		want:   []string{`opened@10m#2 key="1" email=a@x.com slack{"text":"opened c1"}`},
	}, {
		name:  "a sequence rule reading other prev fields starts empty",
		rules: sequence,
		edit: func(s string) string {
			return strings.Replace(s, "opened {{ prev.CustomID }}", "opened {{ prev.url }}", 1)
		},
		before: []step{ev("0s", "sent", 1, "a@x.com", "CustomID", "c1")},
		after:  []step{ev("10m", "open", 1, "a@x.com")},
	}} {
		t.Run(c.name, func(t *testing.T) {
			if c.bug != "" {
				knownBug(t, c.bug)
			}
			e := engine.New(parse(t, c.rules), engine.Options{})
			run(t, e, c.before)
			if c.edit == nil {
				e.Reload(parse(t, "version: 1\nrules: []\n"))
				e.Reload(parse(t, c.rules))
			} else {
				e.Reload(parse(t, c.edit(c.rules)))
			}
			var got []engine.Firing
			noPanic(t, func() {
				for i, s := range c.after {
					got = append(got, feed(e, s, uint64(len(c.before)+i+1))...)
				}
			})
			checkFirings(t, got, c.want)
		})
	}
}

// A reload adds new rules, which see the next events at once.
func TestReloadAddsRules(t *testing.T) {
	e := engine.New(parse(t, "version: 1\nrules: []\n"), engine.Options{})
	run(t, e, []step{ev("0s", "open", 1, "a@x.com")})
	e.Reload(parse(t, `version: 1
rules:
  - {name: opens, on: open, do: [slack: {text: "{{ email }}"}]}
`))
	if got := e.Rules().Rule("opens"); got == nil {
		t.Fatal(`Rules().Rule("opens") = nil after Reload`)
	}
	got := feed(e, ev("1s", "open", 2, "b@x.com"), 2)
	checkFirings(t, got, []string{`opens@1s#2 key="" email=b@x.com slack{"text":"b@x.com"}`})
}

// A rule with a limit that has not fired yet (no limit keys) must keep its
// other state through Snapshot and Restore.
func TestSnapshotLimitWithoutFirings(t *testing.T) {
	for _, c := range []struct {
		name  string
		rules string
		after step
		want  []string
	}{{
		name: "sequence",
		rules: `version: 1
rules:
  - name: discount
    on: open
    after: {event: sent, within: 24h}
    limit: {by: email, max: 1, per: 30d}
    do: [slack: {text: "{{ email }}"}]
`,
		after: ev("1h", "open", 1, "a@x.com"),
		want:  []string{`discount@1h#2 key="1" email=a@x.com slack{"text":"a@x.com"}`},
	}, {
		name: "absence",
		rules: `version: 1
rules:
  - name: reminder
    on: sent
    unless: {event: open, within: 24h}
    limit: {by: email, max: 1, per: 7d}
    do: [slack: {text: "{{ email }}"}]
`,
		after: tick("24h"),
		want:  []string{`reminder@24h#2 key="1" email=a@x.com slack{"text":"a@x.com"}`},
	}} {
		t.Run(c.name, func(t *testing.T) {
			rs := parse(t, c.rules)
			e := engine.New(rs, engine.Options{})
			run(t, e, []step{ev("0s", "sent", 1, "a@x.com")})
			again := engine.New(rs, engine.Options{})
			if err := again.Restore(e.Snapshot()); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			checkFirings(t, feed(again, c.after, 2), c.want)
		})
	}
}

// Window rules that count alike share their counts, and keep each their
// own state of a group: a reload that drops the rule that counted first
// leaves the other its counts, and a rule added alongside a kept one
// starts with the kept one's counts (as a sequence rule finds the
// predecessors another kept).
func TestReloadSharedWindowCounts(t *testing.T) {
	const both = `version: 1
rules:
  - name: three
    on: blocked
    window: 1h
    when: count() >= 3
    do: [slack: {text: "three: {{ count() }}"}]
  - name: five
    on: blocked
    window: 1h
    when: count() >= 5
    do: [slack: {text: "five: {{ count() }}"}]
`
	e := engine.New(parse(t, both), engine.Options{})
	got := run(t, e, []step{
		ev("0s", "blocked", 1, "a@x.com"), ev("1s", "blocked", 2, "a@x.com"),
		ev("2s", "blocked", 3, "a@x.com"), ev("3s", "blocked", 4, "a@x.com"),
	})
	checkFirings(t, got, []string{`three@2s#3 key="" slack{"text":"three: 3"}`})

	five := both[:strings.Index(both, "  - name: three")] + both[strings.Index(both, "  - name: five"):]
	e.Reload(parse(t, five))
	got = feed(e, ev("4s", "blocked", 5, "a@x.com"), 5)
	checkFirings(t, got, []string{`five@4s#5 key="" slack{"text":"five: 5"}`})

	e.Reload(parse(t, five+`  - name: two
    on: blocked
    window: 1h
    when: count() >= 2
    do: [slack: {text: "two: {{ count() }}"}]
`))
	got = feed(e, ev("5s", "blocked", 6, "a@x.com"), 6)
	checkFirings(t, got, []string{`two@5s#6 key="" slack{"text":"two: 6"}`})
}

// Absence rules with the same by keep their timers in one table, a column
// each: a reload that changes which rules share it moves the kept rules'
// timers and early events to the new table.
func TestReloadSharedAbsenceKeys(t *testing.T) {
	const both = `version: 1
rules:
  - name: day
    on: sent
    unless: {event: open, within: 24h}
    do: [slack: {text: "day {{ MessageID }}"}]
  - name: hour
    on: sent
    unless: {event: open, within: 1h}
    do: [slack: {text: "hour {{ MessageID }}"}]
`
	e := engine.New(parse(t, both), engine.Options{})
	run(t, e, []step{
		ev("0s", "sent", 1, "a@x.com"),
		ev("1s", "sent", 2, "b@x.com"),
		ev("2s", "open", 3, "c@x.com"), // early: its send comes later
		ev("3s", "open", 1, "a@x.com"), // cancels both rules' timers of 1
	})
	hour := both[strings.Index(both, "  - name: hour"):]
	e.Reload(parse(t, "version: 1\nrules:\n"+hour))
	got := run(t, e, []step{
		ev("4s", "sent", 3, "c@x.com"), // its open came first: no timer
		tick("1h1m"),
	})
	checkFirings(t, got, []string{`hour@1h1s#2 key="2" email=b@x.com slack{"text":"hour 2"}`})
	// day comes back new: it starts empty, hour keeps its columns' values.
	e.Reload(parse(t, both))
	got = run(t, e, []step{ev("1h2m", "sent", 4, "d@x.com"), tick("2h3m"), tick("25h3m")})
	checkFirings(t, got, []string{
		`hour@2h2m#2 key="4" email=d@x.com slack{"text":"hour 4"}`,
		`day@25h2m#3 key="4" email=d@x.com slack{"text":"day 4"}`,
	})
}
