package engine

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Outcome says what became of an event or a tick for one rule, for
// `herald replay --explain`.
type Outcome string

// Outcomes an Explanation reports.
const (
	OutcomeFired     Outcome = "fired"     // the rule fired
	OutcomeType      Outcome = "type"      // the rule does not look at this event type
	OutcomeIf        Outcome = "if"        // `if` was false
	OutcomeNoKey     Outcome = "no-key"    // the by or group_by value was empty
	OutcomeLimited   Outcome = "limited"   // the limit held the firing back
	OutcomeWaiting   Outcome = "waiting"   // a sequence event waits for its predecessor
	OutcomeStored    Outcome = "stored"    // kept as a sequence's predecessor
	OutcomeTimer     Outcome = "timer"     // an absence timer started (or one already waits)
	OutcomeCancelled Outcome = "cancelled" // an absence timer was cancelled
	OutcomeBelow     Outcome = "below"     // a window's `when` is false
	OutcomeActive    Outcome = "active"    // a window is already firing: no new firing until it resolves
	OutcomeCounted   Outcome = "counted"   // an every rule counted the event
	OutcomeError     Outcome = "error"     // an expression failed
	OutcomeDuplicate Outcome = "duplicate" // the event is a duplicate: no rule sees it
	OutcomeSendTest  Outcome = "send-test" // a "Send test" event: no rule sees it
)

// Explanation is one reason, for one rule (empty for duplicates and send
// tests), at one log position.
type Explanation struct {
	Rule    string  `json:"rule,omitempty"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
	Pos     uint64  `json:"pos"`
}

// explain reports a reason when Options.Explain is set. Callers build
// details lazily so the engine pays nothing otherwise; explain is small
// enough to be inlined, so that a call costs a test.
func (e *Engine) explain(r *Rule, o Outcome, detail func() string) {
	if e.opt.Explain != nil {
		e.explainNow(r, o, detail)
	}
}

func (e *Engine) explainNow(r *Rule, o Outcome, detail func() string) {
	name := ""
	if r != nil {
		name = r.Name
	}
	e.opt.Explain(Explanation{Rule: name, Outcome: o, Detail: detail(), Pos: e.pos})
}

// explainTypes reports the rules an event's type does not reach.
func (e *Engine) explainTypes(ev *Event) {
	if e.opt.Explain == nil {
		return
	}
	for _, run := range e.runners {
		r := run.rule()
		if !r.matches(ev.Type) && r.other != ev.Type {
			e.explain(r, OutcomeType, func() string {
				return fmt.Sprintf("looks at %s, not %s", strings.Join(r.On, ", "), ev.Type)
			})
		}
	}
}

// seen formats the values of the names an expression read, e.g.
// `CustomID = "abc", email = "a@x.com"`.
func seen(p *program, env *env) string {
	if p == nil {
		return ""
	}
	var names []string
	node := p.prog.Node()
	ast.Find(node, func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok && !contains(names, id.Value) {
			names = append(names, id.Value)
		}
		return false
	})
	var parts []string
	for _, name := range names {
		if v, ok := envValue(env, name); ok {
			parts = append(parts, fmt.Sprintf("%s = %s", name, quoted(v)))
		}
	}
	return strings.Join(parts, ", ")
}

// envValue reads a name of the environment.
func envValue(env *env, name string) (any, bool) {
	switch name {
	case "group":
		return env.Group, true
	case "count":
		return env.Count, true
	case "__now":
		return nil, false
	}
	if env.Event == nil {
		return nil, false
	}
	i, ok := fieldIndex[name]
	if !ok {
		return nil, false
	}
	return fieldValue(env.Event, i), true
}

func quoted(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return formatValue(v)
}

// aggregateValues formats a window's aggregate values for an explanation.
func aggregateValues(r *Rule, env *env) string {
	parts := make([]string, len(r.aggs))
	for i, a := range r.aggs {
		var v any
		if a.isInt {
			v = env.AggI[a.slot]
		} else {
			v = env.AggF[a.slot]
		}
		parts[i] = fmt.Sprintf("%s = %s", a.src, formatValue(v))
	}
	return strings.Join(parts, ", ")
}
