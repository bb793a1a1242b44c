package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/heraldmail/herald/engine"
	"gopkg.in/yaml.v3"
)

// TestRulesDoNotInterfere runs realistic traffic through 100 mixed rules
// at once and through each rule alone: every rule must fire exactly as it
// does alone. Sequence rules that wait for the same predecessors share
// where they keep them, which this checks most of all.
func TestRulesDoNotInterfere(t *testing.T) {
	o := defaultTraffic
	o.events = 20_000
	steps := traffic(o)
	// Besides the mix, rules whose predecessors look alike but are not the
	// same: another after.event, other prev fields, and a rule whose on is
	// its after.event (its opens are successors first), after one that
	// keeps the same opens.
	src := mixedRules(100) + `  - name: clicked-after-open
    on: click
    after: {event: open, within: 24h, by: email}
    do: [slack: {text: "{{ url }}"}]
  - name: reopened
    on: open
    after: {event: open, within: 24h, by: email}
    do: [slack: {text: "{{ email }} again"}]
  - name: clicked-after-sent
    on: click
    after: {event: sent, within: 24h, by: email}
    do: [slack: {text: "{{ prev.CustomID }}"}]
  - name: clicked-after-sent-time
    on: click
    after: {event: sent, within: 24h, by: email}
    do: [slack: {text: "{{ prev.time }}"}]
`
	together := firingsByRule(engine.New(parse(t, src), engine.Options{}), steps)
	var doc struct {
		Vars  map[string]any `yaml:"vars"`
		Rules []yaml.Node    `yaml:"rules"`
	}
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	vars, _ := yaml.Marshal(map[string]any{"vars": doc.Vars})
	fired := 0
	for _, node := range doc.Rules {
		one, _ := yaml.Marshal([]*yaml.Node{&node})
		rs := parse(t, "version: 1\n"+string(vars)+"rules:\n"+string(one))
		name := rs.Rules[0].Name
		alone := firingsByRule(engine.New(rs, engine.Options{}), steps)[name]
		if !slices.Equal(together[name], alone) {
			t.Errorf("rule %s fires %d times among the others, %d alone; first difference: %s",
				name, len(together[name]), len(alone), firstDiff(together[name], alone))
		}
		fired += len(alone)
	}
	if fired == 0 {
		t.Fatal("no rule fired: the traffic does not exercise the rules")
	}
}

// firingsByRule feeds the steps and returns each rule's firings, one line each.
func firingsByRule(e *engine.Engine, steps []step) map[string][]string {
	out := map[string][]string{}
	for i, s := range steps {
		for _, f := range feed(e, s, uint64(i+1)) {
			out[f.Rule] = append(out[f.Rule], fmt.Sprintf("%s %s %s %v", f.ID, f.At.Format("15:04:05"), f.Key, f.Actions))
		}
	}
	return out
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return strings.Join([]string{a[i], b[i]}, " ≠ ")
		}
	}
	return "one is a prefix of the other"
}

// Predecessors are restored to the rules that wait for them, whichever
// rule kept them: here the first of two rules sharing them has changed.
func TestSnapshotKeepsSharedPredecessors(t *testing.T) {
	const two = `version: 1
rules:
  - name: first
    on: open
    after: {event: sent, within: 1h}
    do: [slack: {text: "first {{ prev.CustomID }}"}]
  - name: second
    on: click
    after: {event: sent, within: 1h}
    do: [slack: {text: "second {{ prev.CustomID }}"}]
`
	e := engine.New(parse(t, two), engine.Options{})
	run(t, e, []step{ev("0s", "sent", 1, "a@x.com", "CustomID", "c1")})
	second := engine.New(parse(t, strings.Replace(two, "- name: first\n    on: open", "- name: first\n    on: bounce", 1)), engine.Options{})
	if err := second.Restore(e.Snapshot()); err != nil {
		t.Fatal(err)
	}
	got := feed(second, ev("10m", "click", 1, "a@x.com"), 2)
	checkFirings(t, got, []string{`second@10m#2 key="1" email=a@x.com slack{"text":"second c1"}`})
}
