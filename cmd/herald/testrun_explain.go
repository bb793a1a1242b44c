package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/heraldmail/herald/engine"
)

// explainPrinter writes the text report of herald replay --explain and
// herald test --explain: for each event, every rule and why it fired or
// did not; for each clock tick that fired something (or was held back by a
// limit, or failed), those rules only. A tick's other explanations (a
// window still below its threshold, every second) are left out.
//
//	event 3 open a@x.com MessageID=1 (2024-03-01T11:00:00Z)
//	  open-discount      fired open-discount-1a2b3c4d5e6f7a8b
//	                     mailjet {template_id: 4242, to: a@x.com}
//	  no-open-reminder   cancelled: cancels the timer of MessageID = 1
//	  blocked-spike      type: looks at sent, blocked, not open
type explainPrinter struct {
	w     io.Writer
	rules []*engine.Rule
	width int                    // of the rule name column
	when  func(time.Time) string // formats a time: RFC 3339, or a test's offset
	lines map[string][]string    // per rule, for the step being printed
}

func newExplainPrinter(w io.Writer, rs *engine.RuleSet, when func(time.Time) string) *explainPrinter {
	p := &explainPrinter{w: w, rules: rs.Rules, when: when, lines: map[string][]string{}}
	for _, r := range rs.Rules {
		p.width = max(p.width, len(r.Name))
	}
	return p
}

// tickOutcomes are the outcomes a tick's report shows.
var tickOutcomes = map[engine.Outcome]bool{engine.OutcomeFired: true, engine.OutcomeLimited: true, engine.OutcomeError: true}

func (p *explainPrinter) step(st *simStep) {
	clear(p.lines)
	var general []string // about the event, for no rule: duplicates, send tests
	firings := st.Firings
	for _, x := range st.Expl {
		if st.Event == nil && !tickOutcomes[x.Outcome] {
			continue
		}
		text := reason(x)
		if x.Outcome == engine.OutcomeFired && len(firings) > 0 && firings[0].Rule == x.Rule {
			text = p.fired(firings[0], st.At)
			firings = firings[1:]
		}
		if x.Rule == "" {
			general = append(general, text)
			continue
		}
		p.lines[x.Rule] = append(p.lines[x.Rule], text)
	}
	if st.Event == nil && len(p.lines) == 0 {
		return
	}
	p.header(st)
	for _, g := range general {
		fmt.Fprintf(p.w, "  %s\n", g)
	}
	for _, r := range p.rules {
		lines := p.lines[r.Name]
		if len(lines) == 0 && st.Event != nil && len(general) == 0 {
			lines = []string{silent(r, st.Event)}
		}
		for i, l := range lines {
			name := r.Name
			if i > 0 {
				name = ""
			}
			l = strings.ReplaceAll(l, "\n", "\n  "+strings.Repeat(" ", p.width+2))
			fmt.Fprintf(p.w, "  %-*s  %s\n", p.width, name, l)
		}
	}
}

func (p *explainPrinter) header(st *simStep) {
	if st.Event == nil {
		fmt.Fprintf(p.w, "tick %s\n", p.when(st.At))
		return
	}
	ev := st.Event
	email := ev.Email
	if email == "" {
		email = "(no email)"
	}
	where := p.when(ev.Received)
	if st.Label != "" {
		where += ", " + st.Label
	}
	fmt.Fprintf(p.w, "event %d %s %s MessageID=%d (%s)\n", st.N, ev.Type, email, ev.MessageID, where)
}

// reason formats one explanation: "outcome: detail", or the detail alone
// when it already starts with the outcome's word.
func reason(x engine.Explanation) string {
	if strings.HasPrefix(x.Detail, string(x.Outcome)) {
		return x.Detail
	}
	return string(x.Outcome) + ": " + x.Detail
}

// fired describes a firing: its id, when it is not now, its actions, and
// what shadow mode and suppression make of it.
func (p *explainPrinter) fired(f simFiring, now time.Time) string {
	var b strings.Builder
	if f.Resolve {
		b.WriteString("resolved: on_resolve runs")
	} else {
		b.WriteString("fired " + f.ID)
	}
	if !f.At.Equal(now) {
		fmt.Fprintf(&b, " (at %s: its timer ended then)", p.when(f.At))
	}
	if f.Shadow {
		b.WriteString(" (shadow: recorded, no action runs)")
	}
	for _, a := range renderedActions(f.Actions) {
		for kind, params := range a {
			fmt.Fprintf(&b, "\n%s %s", kind, flowYAML(params))
		}
	}
	if len(f.Suppressed) > 0 {
		b.WriteString("\n" + p.suppressedText(f))
	}
	return b.String()
}

// suppressedText says which recipients are suppressed and why.
func (p *explainPrinter) suppressedText(f simFiring) string {
	parts := make([]string, len(f.Suppressed))
	for i, s := range f.Suppressed {
		parts[i] = fmt.Sprintf("%s %s (event %d, %s)", s.Email, suppressedWhy(s.Reason), s.Event, p.when(s.At))
	}
	if f.AllSuppressed {
		return "suppressed: " + strings.Join(parts, "; ") + ": no email is sent"
	}
	return "partly suppressed: " + strings.Join(parts, "; ") + ": the other recipients are sent the email"
}

func suppressedWhy(reason string) string {
	switch reason {
	case "unsub":
		return "unsubscribed"
	case "spam":
		return "complained (spam)"
	case "hard_bounce":
		return "hard-bounced"
	case "blocked":
		return "was blocked"
	}
	return reason
}

// silent explains a rule the engine said nothing about for an event: the
// engine explains every other path of an event through a rule.
func silent(r *engine.Rule, ev *engine.Event) string {
	switch {
	case !r.Enabled:
		return "disabled (enabled: false)"
	case r.Kind == engine.KindAbsence:
		return fmt.Sprintf("no timer waits for this %s's key: nothing to cancel", ev.Type)
	case r.Kind == engine.KindWindow:
		return "resolved: the condition is over (no on_resolve actions to run)"
	}
	return "nothing to do"
}
