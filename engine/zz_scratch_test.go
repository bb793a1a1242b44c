package engine

import (
	"fmt"
	"testing"
	"time"
)

func TestZZScratch(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	try := func(src string) *RuleSet {
		rs, err := Parse("r.yaml", []byte(src), ParseOptions{})
		fmt.Printf("---\n%v\n", err)
		return rs
	}
	try(`version: 1
vars: {a: 1}
rules:
  - name: x
    on: open
    if: vars.nope == 1
    do: [slack: {text: "{{ vars.zzz }}"}]
`)
	rs := try(`version: 1
rules:
  - name: w
    on: [sent, blocked]
    window: 1m
    when: count(evnt == "blocked") > 1
    do: [slack: {text: "x"}]
  - name: y
    on: [sent, blocked]
    whn: 1
    do: [slack: {text: "x"}]
`)
	_ = rs
	rs = try(`version: 1
rules:
  - name: seq
    on: open
    after: {event: open, within: 1h}
    do: [slack: {text: "{{ prev.time }} {{ time }}"}]
  - name: star
    on: "*"
    after: {event: sent, within: 1h}
    do: [slack: {text: "{{ event }}"}]
`)
	e := New(rs, Options{})
	for i, ev := range []*Event{
		{Type: "sent", MessageID: 1, Email: "a@x", Time: 1, Received: t0},
		{Type: "open", MessageID: 1, Email: "a@x", Time: 2, Received: t0.Add(time.Second)},
	} {
		for _, f := range e.Event(ev, uint64(i)) {
			fmt.Printf("%s %v %v\n", f.Rule, f.Key, f.Actions[0].Params)
		}
	}
}

func TestZZScratch2(t *testing.T) {
	try := func(src string) *RuleSet {
		rs, err := Parse("r.yaml", []byte(src), ParseOptions{})
		fmt.Printf("---\n%v\n", err)
		return rs
	}
	try(`version: 1
rules:
  - name: a
    on: open
    if: CustomID
    do: [slack: {text: "{{ CustomId }} and {{ emial }}"}]
  - name: b
    on: open
    after: {event: sent, within: 30days}
    do: [slack: {text: "x"}]
  - name: c
    on: open
    unless: {event: sent, within: 24 hours}
    window: -5m
    do: [slack: {text: "x"}]
  - name: d
    on: open
    if: |
      CustomID == "x" &&
        emal == "y"
    do: [slack: {text: "x"}]
`)
}
