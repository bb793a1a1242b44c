package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// testResult is what one test did and what went wrong.
type testResult struct {
	firings  []simFiring
	errors   []string // runtime errors of expressions and templates
	problems []string // failed expectations, each a few lines
}

func (r *testResult) ok() bool { return len(r.problems) == 0 && len(r.errors) == 0 }

// runTestCase feeds the test's events to a fresh engine on a virtual clock
// that ticks every second, as herald serve's clock does, then matches the
// firings against the expectations. With explain, the explanation report is
// written to w as the test runs.
func runTestCase(tf *testFile, tc *testCase, explain io.Writer) *testResult {
	rs := tf.rules
	res := &testResult{}
	var exp *explainPrinter
	if explain != nil {
		exp = newExplainPrinter(explain, rs, func(t time.Time) string { return "at " + offset(t.Sub(tc.start)) })
	}
	s := newSim(rs, simOptions{
		Explain: explain != nil,
		OnError: func(rule string, err error) {
			res.errors = append(res.errors, fmt.Sprintf("rule %s: %v", rule, err))
		},
		Step: func(st *simStep) {
			res.firings = append(res.firings, st.Firings...)
			if exp != nil {
				exp.step(st)
			}
		},
	})
	s.tick, s.at = tc.start, tc.start
	for i := range tc.steps {
		st := &tc.steps[i]
		if st.advance {
			s.until(st.to)
			continue
		}
		s.label = fmt.Sprintf("%s:%d", tf.path, st.line)
		for k := 0; k < st.repeat; k++ {
			ev := st.ev // a copy; Extra and PayloadMap are shared, never written
			ev.MessageID += int64(k)
			ev.Received = st.to.Add(time.Duration(k) * st.interval)
			if !st.timeSet {
				ev.Time = ev.Received.Unix()
			}
			s.record()
			s.event(&ev)
		}
	}
	res.problems = match(tc, res.firings)
	return res
}

// match checks the firings against the test's expectations. Expectations
// are matched in order against the firings in order: each one takes the
// first firing after the previous match that fits it.
func match(tc *testCase, firings []simFiring) []string {
	var problems []string
	metBy := make([]int, len(firings)) // the expectation a firing met, +1; 0: none
	failed := map[string]bool{}        // rules with an expectation no firing met
	next := 0
	for i, x := range tc.expect {
		k := findFiring(tc, x, firings, next)
		if k < 0 {
			problems = append(problems, missing(tc, i, x, firings, next, metBy))
			failed[x.rule] = true
			continue
		}
		metBy[k] = i + 1
		next = k + 1
	}
	if tc.exact {
		problems = append(problems, unexpected(tc, firings, metBy, failed)...)
	}
	for _, name := range tc.expectNo {
		for _, f := range firings {
			if f.Rule == name {
				problems = append(problems, fmt.Sprintf("expect_no: %s fired\n  got   %s", name, describeFiring(tc, f, "        ")))
			}
		}
	}
	return problems
}

// unexpected reports, for exact: true, the firings of the rules named in
// expect that no expectation met. A rule with a failed expectation is left
// out: its firings are shown with that failure.
func unexpected(tc *testCase, firings []simFiring, metBy []int, failed map[string]bool) []string {
	named := map[string]bool{}
	for _, x := range tc.expect {
		named[x.rule] = true
	}
	var out []string
	for i, f := range firings {
		if named[f.Rule] && !failed[f.Rule] && metBy[i] == 0 {
			out = append(out, "exact: a firing no expectation matches\n  got   "+describeFiring(tc, f, "        "))
		}
	}
	return out
}

func findFiring(tc *testCase, x *expectation, firings []simFiring, from int) int {
	for i := from; i < len(firings); i++ {
		if len(differences(tc, x, firings[i])) == 0 {
			return i
		}
	}
	return -1
}

// differences says how a firing of the expected rule differs from the
// expectation; nil when it matches. A firing of another rule is one
// difference.
func differences(tc *testCase, x *expectation, f simFiring) []string {
	if f.Rule != x.rule {
		return []string{"another rule"}
	}
	var d []string
	if f.Resolve != x.resolve {
		if f.Resolve {
			d = append(d, "it is the on_resolve firing (resolve: true expects it)")
		} else {
			d = append(d, "it is not the on_resolve firing")
		}
	}
	if at := f.At.Sub(tc.start); x.at != nil && at != *x.at {
		d = append(d, fmt.Sprintf("at is %s, want %s", offset(at), offset(*x.at)))
	}
	if x.key != nil && f.Key != *x.key {
		d = append(d, fmt.Sprintf("key is %s, want %s", yamlString(f.Key), yamlString(*x.key)))
	}
	if x.hasActions {
		d = append(d, subset("actions", x.actions, canonical(renderedActions(f.Actions)))...)
	}
	switch {
	case f.AllSuppressed && !x.suppressed:
		d = append(d, "it is suppressed: no email is sent (suppressed: true expects that)")
	case !f.AllSuppressed && x.suppressed:
		d = append(d, "it is not suppressed")
	}
	return d
}

// maxShown bounds the firings a failed expectation lists.
const maxShown = 5

// missing reports an expectation no firing met: what was expected, and
// the firings of that rule with how each differs.
func missing(tc *testCase, i int, x *expectation, firings []simFiring, from int, metBy []int) string {
	var same []int
	for k, f := range firings {
		if f.Rule == x.rule {
			same = append(same, k)
		}
	}
	var b strings.Builder
	if len(same) == 0 {
		fmt.Fprintf(&b, "expect[%d] (line %d): %s did not fire (--explain shows why)", i, x.line, x.rule)
	} else {
		fmt.Fprintf(&b, "expect[%d] (line %d): no firing matches", i, x.line)
	}
	b.WriteString("\n  want  " + describeExpectation(x, "        "))
	for n, k := range same {
		if n == maxShown {
			fmt.Fprintf(&b, "\n  … and %d more firing(s) of %s", len(same)-maxShown, x.rule)
			break
		}
		f := firings[k]
		b.WriteString("\n  got   " + describeFiring(tc, f, "        "))
		switch {
		case metBy[k] > 0:
			fmt.Fprintf(&b, "\n        - it met expect[%d]", metBy[k]-1)
			continue
		case k < from:
			b.WriteString("\n        - it comes before the firing that met the previous expectation: expectations are matched in order")
			continue
		}
		for _, d := range differences(tc, x, f) {
			b.WriteString("\n        - " + d)
		}
	}
	return b.String()
}

func describeExpectation(x *expectation, indent string) string {
	parts := []string{x.rule}
	if x.resolve {
		parts = append(parts, "(on_resolve)")
	}
	if x.at != nil {
		parts = append(parts, "at "+offset(*x.at))
	}
	if x.key != nil {
		parts = append(parts, "key "+yamlString(*x.key))
	}
	if x.suppressed {
		parts = append(parts, "(suppressed)")
	}
	s := strings.Join(parts, " ")
	if x.hasActions {
		s += "\n" + indent + "actions: " + flowYAML(x.actions)
	}
	return s
}

// describeFiring shows a firing: rule, offset, key, marks, rendered
// actions and suppressed recipients; lines after the first are indented.
func describeFiring(tc *testCase, f simFiring, indent string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s", f.Rule, offset(f.At.Sub(tc.start)))
	if f.Key != "" {
		fmt.Fprintf(&b, " key %s", yamlString(f.Key))
	}
	for _, mark := range []struct {
		on   bool
		text string
	}{{f.Resolve, "(on_resolve)"}, {f.Shadow, "(shadow)"}, {f.AllSuppressed, "(suppressed)"}} {
		if mark.on {
			b.WriteString(" " + mark.text)
		}
	}
	fmt.Fprintf(&b, "\n%sactions: %s", indent, flowYAML(renderedActions(f.Actions)))
	for _, s := range f.Suppressed {
		fmt.Fprintf(&b, "\n%s%s %s at %s (event %d)", indent, s.Email, suppressedWhy(s.Reason), offset(s.At.Sub(tc.start)), s.Event)
	}
	return b.String()
}
