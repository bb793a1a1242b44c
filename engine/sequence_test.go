package engine_test

import (
	"strconv"
	"testing"
)

const sequenceRules = `version: 1
rules:
  - name: open-after-send
    on: open
    after: {event: sent, within: 24h}
    do:
      - slack: {text: "{{ email }} opened {{ CustomID }} {{ time - prev.time }}s after {{ prev.event }} of {{ prev.CustomID }}"}
  - name: click-after-open
    mode: shadow
    on: click
    if: prev.CustomID == CustomID
    after: {event: open, within: 1h, by: email}
    limit: {by: email, max: 1, per: 30d}
    do: [slack: {text: "{{ prev.url }} then {{ url }}"}]
`

// unix returns the Mailjet time of an offset, for events whose own time is
// not their arrival time.
func unix(offset string) string { return strconv.FormatInt(t0.Add(dur(offset)).Unix(), 10) }

func TestSequence(t *testing.T) {
	runScenarios(t, sequenceRules, []scenario{{
		name: "in order, within",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("2h", "open", 1, "a@x.com", "CustomID", "promo-1"),
		},
		want: []string{
			`open-after-send@2h#2 key="1" email=a@x.com slack{"text":"a@x.com opened promo-1 7200s after sent of promo-1"}`,
		},
	}, {
		name: "in order, just inside within",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("23h59m59s", "open", 1, "a@x.com"),
		},
		want: []string{
			`open-after-send@23h59m59s#2 key="1" email=a@x.com slack{"text":"a@x.com opened  86399s after sent of "}`,
		},
	}, {
		name: "in order, exactly at within: out",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("24h", "open", 1, "a@x.com"),
		},
	}, {
		name: "another key does not match",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1h", "open", 2, "a@x.com"),
		},
	}, {
		name: "every successor of one predecessor fires",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1h", "open", 1, "a@x.com"),
			ev("2h", "open", 1, "a@x.com"),
		},
		want: []string{
			`open-after-send@1h#2 key="1" email=a@x.com slack{"text":"a@x.com opened  3600s after sent of "}`,
			`open-after-send@2h#3 key="1" email=a@x.com slack{"text":"a@x.com opened  7200s after sent of "}`,
		},
	}, {
		name: "the latest predecessor counts, with its own expiry",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "first"),
			ev("1h", "sent", 1, "b@x.com", "CustomID", "second"),
			ev("24h30m", "open", 1, "a@x.com"),
			ev("25h", "open", 1, "b@x.com"),
		},
		want: []string{
			`open-after-send@24h30m#3 key="1" email=a@x.com slack{"text":"a@x.com opened  84600s after sent of second"}`,
		},
	}, {
		name: "out of order: the successor waits for its predecessor",
		steps: []step{
			ev("0s", "open", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1m", "sent", 1, "a@x.com", "CustomID", "promo-1", "time", unix("-1h")),
		},
		want: []string{
			`open-after-send@1m#2 key="1" email=a@x.com slack{"text":"a@x.com opened promo-1 3600s after sent of promo-1"}`,
		},
	}, {
		name: "out of order: several successors wait",
		steps: []step{
			ev("0s", "open", 1, "a@x.com", "time", unix("-1m")),
			ev("1s", "open", 1, "a@x.com", "time", unix("-2m")),
			ev("2s", "open", 2, "a@x.com"), // another key: keeps waiting
			ev("3s", "sent", 1, "a@x.com", "time", unix("-1h")),
		},
		want: []string{
			`open-after-send@3s#4 key="1" email=a@x.com slack{"text":"a@x.com opened  3540s after sent of "}`,
			`open-after-send@3s#4 key="1" email=a@x.com slack{"text":"a@x.com opened  3480s after sent of "}`,
		},
	}, {
		name: "out of order: the wait ends exactly at within",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("24h", "sent", 1, "a@x.com"),
			ev("25h", "open", 2, "a@x.com"),
			ev("48h59m59s", "sent", 2, "a@x.com"),
		},
		want: []string{
			`open-after-send@48h59m59s#4 key="2" email=a@x.com slack{"text":"a@x.com opened  -86399s after sent of "}`,
		},
	}, {
		name: "a zero key is ignored",
		steps: []step{
			ev("0s", "sent", 0, "a@x.com", "Message_GUID", "g1"),
			ev("1m", "open", 0, "a@x.com", "Message_GUID", "g1"),
		},
	}, {
		name: "by email, with if on prev, limited, shadow",
		steps: []step{
			ev("0s", "open", 1, "a@x.com", "CustomID", "c1", "url", "u0"),
			ev("1m", "click", 1, "a@x.com", "CustomID", "c2", "url", "u1"), // if false
			ev("2m", "click", 1, "a@x.com", "CustomID", "c1", "url", "u2"),
			ev("3m", "click", 1, "a@x.com", "CustomID", "c1", "url", "u3"), // limited
			ev("4m", "click", 2, "b@x.com", "CustomID", "c1", "url", "u4"), // waits, then if false
			ev("5m", "open", 2, "b@x.com", "CustomID", "c9", "url", "u5"),
			ev("6m", "click", 3, "c@x.com", "CustomID", "c1", "url", "u6"), // waits
			ev("7m", "open", 3, "c@x.com", "CustomID", "c1", "url", "u7"),
		},
		want: []string{
			`click-after-open@2m#3 key="a@x.com" email=a@x.com shadow slack{"text":"u0 then u2"}`,
			`click-after-open@7m#8 key="c@x.com" email=c@x.com shadow slack{"text":"u7 then u6"}`,
		},
	}})
}

// A successor that waited in vain is forgotten when its wait ends, also
// when nothing else the rule keeps is due then: advance skips the rules
// until the earliest thing due (Engine.wakeAt), and a wait is one.
func TestSequenceWaitEndsAlone(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: open-after-send
    on: open
    after: {event: sent, within: 1h}
    do: [slack: {text: "{{ email }}"}]
`, []scenario{{
		name: "the predecessor comes after the wait",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			tick("2h"),
			ev("2h1s", "sent", 1, "a@x.com", "time", unix("-1m")),
		},
	}, {
		name: "the predecessor comes within the wait",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			tick("30m"),
			ev("59m", "sent", 1, "a@x.com", "time", unix("-1m")),
		},
		want: []string{
			`open-after-send@59m#3 key="1" email=a@x.com slack{"text":"a@x.com"}`,
		},
	}})
}

// A rule whose successor and predecessor are the same type: "a second open
// within an hour". The first open must wait as a predecessor, not fire
// with itself as prev.
func TestSequenceSameType(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: second-open
    on: open
    after: {event: open, within: 1h, by: email}
    do: [slack: {text: "{{ time - prev.time }}"}]
`, []scenario{{
		name: "two opens",
		steps: []step{
			ev("0s", "open", 1, "a@x.com"),
			ev("10m", "open", 2, "a@x.com"),
		},
		want: []string{
			`second-open@10m#2 key="a@x.com" email=a@x.com slack{"text":600}`,
		},
	}})
}

// A sequence on "*": the event type named by after: is reached through
// both byType and the any list, so the rule sees it twice.
func TestSequenceOnStar(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: anything-after-send
    on: "*"
    after: {event: sent, within: 1h}
    do: [slack: {text: "{{ event }} after {{ prev.event }}"}]
`, []scenario{{
		name: "sent then open",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com"),
			ev("1m", "open", 1, "a@x.com"),
		},
		want: []string{
			`anything-after-send@1m#2 key="1" email=a@x.com slack{"text":"open after sent"}`,
		},
	}})
}

// An `if` that does not read prev is tested before the predecessor is
// looked up (or waited for); one that reads prev, after. Either way the
// firings are those of the rule as written, in order and out of order, and
// an event that fails the `if` is still the predecessor of the next.
func TestSequenceConditionBeforeLookup(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: promo-open
    on: open
    if: CustomID startsWith "promo-"
    after: {event: sent, within: 1h}
    do: [slack: {text: "{{ CustomID }}"}]
  - name: same-campaign
    on: open
    if: prev.CustomID == CustomID
    after: {event: sent, within: 1h}
    do: [slack: {text: "{{ prev.CustomID }}"}]
  - name: resend
    on: sent
    if: CustomID == "x"
    after: {event: sent, within: 1h, by: email}
    do: [slack: {text: "{{ prev.CustomID }} then {{ CustomID }}"}]
`, []scenario{{
		name: "in order",
		steps: []step{
			ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1m", "open", 1, "a@x.com", "CustomID", "promo-1"),
			ev("2m", "sent", 2, "b@x.com", "CustomID", "news"),
			ev("3m", "open", 2, "b@x.com", "CustomID", "news"),
		},
		want: []string{
			`promo-open@1m#2 key="1" email=a@x.com slack{"text":"promo-1"}`,
			`same-campaign@1m#2 key="1" email=a@x.com slack{"text":"promo-1"}`,
			`same-campaign@3m#4 key="2" email=b@x.com slack{"text":"news"}`,
		},
	}, {
		name: "successors first",
		steps: []step{
			ev("0s", "open", 1, "a@x.com", "CustomID", "promo-1"),
			ev("1s", "open", 2, "b@x.com", "CustomID", "news"),
			ev("1m", "sent", 1, "a@x.com", "CustomID", "promo-1"),
			ev("2m", "sent", 2, "b@x.com", "CustomID", "other"),
		},
		want: []string{
			`promo-open@1m#3 key="1" email=a@x.com slack{"text":"promo-1"}`,
			`same-campaign@1m#3 key="1" email=a@x.com slack{"text":"promo-1"}`,
		},
	}, {
		name: "an event failing the if is still a predecessor",
		steps: []step{
			ev("0s", "sent", 1, "c@x.com", "CustomID", "y"),
			ev("1m", "sent", 2, "c@x.com", "CustomID", "x"),
			ev("2m", "sent", 3, "c@x.com", "CustomID", "x"),
		},
		want: []string{
			`resend@1m#2 key="c@x.com" email=c@x.com slack{"text":"y then x"}`,
			`resend@2m#3 key="c@x.com" email=c@x.com slack{"text":"x then x"}`,
		},
	}})
}
