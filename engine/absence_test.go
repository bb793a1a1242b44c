package engine_test

import (
	"testing"

	"github.com/heraldmail/herald/engine"
)

const absenceRules = `version: 1
rules:
  - name: no-open
    on: sent
    if: CustomID startsWith "promo-"
    unless: {event: open, within: 24h}
    do:
      - mailjet:
          template_id: 7
          to: "{{ email }}"
          variables: {campaign: "{{ CustomID }}", sent: "{{ received }}", now: "{{ now() }}"}
`

func TestAbsence(t *testing.T) {
	fired := func(at, pos, id, email, campaign, sent, now string) string {
		return `no-open@` + at + `#` + pos + ` key="` + id + `" email=` + email +
			` mailjet{"template_id":7,"to":"` + email + `","variables":{"campaign":"` + campaign +
			`","now":"` + now + `","sent":"` + sent + `"}}`
	}
	runScenarios(t, absenceRules, []scenario{{
		name: "not cancelled: a tick at the deadline fires it",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			tick("23h59m59s"),
			tick("24h"),
		},
		want: []string{fired("24h", "3", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z")},
	}, {
		name: "not cancelled: the next event fires it, at its deadline",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("30h", "sent", 2, "b@x.com", "CustomID", "other"),
		},
		want: []string{fired("24h", "2", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-02T06:00:00Z")},
	}, {
		name: "several timers end in one tick, in order",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1s", "sent", 2, "b@x.com", "CustomID", "promo-1"),
			ev("2s", "sent", 3, "c@x.com", "CustomID", "promo-1"),
			tick("72h"),
		},
		want: []string{
			fired("24h", "4", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-04T00:00:00Z"),
			fired("24h1s", "4", "2", "b@x.com", "promo-1", "2025-03-01T00:00:01Z", "2025-03-04T00:00:00Z"),
			fired("24h2s", "4", "3", "c@x.com", "promo-1", "2025-03-01T00:00:02Z", "2025-03-04T00:00:00Z"),
		},
	}, {
		name: "cancelled just before the deadline",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("23h59m59s", "open", 1, "a@x.com"),
			tick("48h"),
		},
	}, {
		name: "an unless event exactly at the deadline is too late",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("24h", "open", 1, "a@x.com"),
		},
		want: []string{fired("24h", "2", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z")},
	}, {
		name: "an unless event of another key does not cancel",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1h", "open", 2, "a@x.com"),
			tick("24h"),
		},
		want: []string{fired("24h", "3", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z")},
	}, {
		name: "an early unless event cancels the start",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("1m", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			tick("48h"),
		},
	}, {
		name: "an early unless event is forgotten after within",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("24h", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			tick("48h"),
		},
		want: []string{fired("48h", "3", "1", "a@x.com", "promo-1", "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z")},
	}, {
		name: "an unless event cancels one timer only",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1h", "open", 1, "a@x.com"),
			ev("2h", "sent", 1, "b@x.com", "CustomID", "promo-2"),
			tick("26h"),
		},
		want: []string{fired("26h", "4", "1", "b@x.com", "promo-2", "2025-03-01T02:00:00Z", "2025-03-02T02:00:00Z")},
	}, {
		name: "a second start for a waiting key is ignored",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1h", "sent", 1, "b@x.com", "CustomID", "promo-2"),
			tick("48h"),
		},
		want: []string{fired("24h", "3", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z")},
	}, {
		name: "after its timer fired a key starts again",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			tick("24h"),
			ev("25h", "sent", 1, "b@x.com", "CustomID", "promo-2"),
			tick("49h"),
		},
		want: []string{
			fired("24h", "2", "1", "a@x.com", "promo-1", "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"),
			fired("49h", "4", "1", "b@x.com", "promo-2", "2025-03-02T01:00:00Z", "2025-03-03T01:00:00Z"),
		},
	}, {
		name: "if false starts nothing; a zero key is ignored",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "news-1"),
			ev("1s", "sent", 0, "b@x.com", "CustomID", "promo-1", "Message_GUID", "g1"),
			tick("48h"),
		},
	}})
}

func TestAbsenceLimitAndShadow(t *testing.T) {
	rules := `version: 1
rules:
  - name: no-click
    mode: shadow
    on: open
    unless: {event: click, within: 1h, by: email}
    limit: {by: email, max: 1, per: 7d}
    do: [slack: {text: "{{ email }} opened {{ MessageID }} and did not click"}]
`
	e := engine.New(parse(t, rules), engine.Options{})
	got := run(t, e, []step{
		ev("0s", "open", 1, "a@x.com"),
		tick("1h"),
		ev("2h", "open", 2, "a@x.com"), // fires at 3h: held back by the limit
		ev("2h", "open", 3, "b@x.com"),
		ev("2h30m", "click", 3, "b@x.com"),
		tick("3h"),
		ev("192h", "open", 4, "a@x.com"), // the 1h firing is 7d old at 7d1h
		tick("193h"),
	})
	checkFirings(t, got, []string{
		`no-click@1h#2 key="a@x.com" email=a@x.com shadow slack{"text":"a@x.com opened 1 and did not click"}`,
		`no-click@193h#8 key="a@x.com" email=a@x.com shadow slack{"text":"a@x.com opened 4 and did not click"}`,
	})
	if st := e.Stats().Rules["no-click"]; st.Suppressed != 1 || st.Fired != 2 || st.Matched != 4 {
		t.Errorf("stats = %+v, want 4 matched, 2 fired, 1 suppressed", st)
	}
}

// An absence whose start and unless events are the same type: "an open not
// followed by another open within an hour". The start must not cancel
// itself.
func TestAbsenceSameType(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: single-open
    on: open
    unless: {event: open, within: 1h, by: email}
    do: [slack: {text: "{{ email }} opened once"}]
`, []scenario{{
		name: "one open",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			tick("2h"),
		},
		want: []string{`single-open@1h#2 key="a@x.com" email=a@x.com slack{"text":"a@x.com opened once"}`},
	}, {
		name: "two opens",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("30m", "open", 2, "a@x.com"),
			tick("2h"),
		},
		// The second open cancels the first timer and starts its own.
		want: []string{`single-open@1h30m#3 key="a@x.com" email=a@x.com slack{"text":"a@x.com opened once"}`},
	}})
}

// Absence rules with the same by share one table of keys, a column each
// (absenceKeys): each rule's timers and early unless events stay its own.
func TestAbsenceSharedKeys(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: hour
    on: sent
    unless: {event: open, within: 1h}
    do: [slack: {text: "hour {{ MessageID }}"}]
  - name: day
    on: sent
    unless: {event: open, within: 24h}
    do: [slack: {text: "day {{ MessageID }}"}]
  - name: click
    on: sent
    unless: {event: click, within: 1h}
    do: [slack: {text: "click {{ MessageID }}"}]
`, []scenario{{
		name: "timers, cancelled and not, early events",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1s", "sent", 2, "b@x.com"),
			ev("2s", "click", 3, "c@x.com"), // early for click only
			ev("3s", "sent", 3, "c@x.com"),
			ev("30m", "open", 1, "a@x.com"), // cancels hour and day of 1
			ev("2h", "open", 2, "b@x.com"),  // too late for hour, cancels day of 2
			tick("25h"),
		},
		// The open at 2h moves the clock past the hour timers: each rule
		// fires its own, in rule order.
		want: []string{
			`hour@1h1s#6 key="2" email=b@x.com slack{"text":"hour 2"}`,
			`hour@1h3s#6 key="3" email=c@x.com slack{"text":"hour 3"}`,
			`click@1h#6 key="1" email=a@x.com slack{"text":"click 1"}`,
			`click@1h1s#6 key="2" email=b@x.com slack{"text":"click 2"}`,
			`day@24h3s#7 key="3" email=c@x.com slack{"text":"day 3"}`,
		},
	}})
}
