package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// env is the environment every expression runs against. Which names an
// expression may use depends on where it stands (see scope); the type is one
// so that every program shares it and the engine reuses one value.
type env struct {
	*Event
	Prev  *Event    `expr:"prev"`
	Group string    `expr:"group"`
	Count int64     `expr:"count"`
	Now   time.Time `expr:"__now"`
	AggF  []float64 `expr:"__aggf"`
	AggI  []int64   `expr:"__aggi"`
}

// scope says which names an expression may use.
type scope int

const (
	scopeEvent    scope = iota // an event's fields
	scopeSequence              // an event's fields and prev
	scopeEvery                 // an event's fields, count and group
	scopeWindow                // group and the aggregates; no event
)

// eventFields are the expression names of Event's fields, in struct order.
var eventFields = func() []string {
	t := reflect.TypeOf(Event{})
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("expr")
	}
	return names
}()

var isEventField = func() map[string]bool {
	m := make(map[string]bool, len(eventFields))
	for _, n := range eventFields {
		m[n] = true
	}
	return m
}()

// aggregateNames are the window aggregates; aggInt says which return int.
var aggregateNames = map[string]bool{"count": true, "ratio": true, "sum": true, "avg": true, "distinct": true}

// program is a compiled expression with its source, for error messages.
type program struct {
	src  string
	prog *vm.Program
	// field is the Event field the expression is, when it is a bare field
	// name such as MessageID or domain (keys usually are): the engine reads
	// it directly instead of running the program. -1 otherwise.
	field int
	// fast evaluates the expression without the VM when its shape allows
	// (fast.go); nil otherwise.
	fast fastFn
	// pred is fast's form for conditions (fast.go); nil with fast.
	pred predFn
}

// exprCompiler compiles the expressions of one rule.
type exprCompiler struct {
	errs *errs
	vars map[string]any
	rule string
	// aggs collects the aggregates of a window rule; nil elsewhere.
	aggs *[]*aggregate
}

// compileExpr compiles src found in the YAML scalar at pos (offset: where
// src starts inside the scalar's value). asBool requires a bool result.
// It returns nil after reporting an error.
func (c *exprCompiler) compileExpr(n *yaml.Node, key, src string, offset int, sc scope, asBool bool) *program {
	p, err := c.compileRaw(n, key, src, offset, sc, asBool)
	if errors.Is(err, errReported) {
		return nil
	}
	if err != nil {
		c.errs.expr(n, offset, c.rule, key, err)
		return nil
	}
	return p
}

// compileRaw compiles src and returns its error unreported; errReported
// means an aggregate's argument already reported its own.
func (c *exprCompiler) compileRaw(n *yaml.Node, key, src string, offset int, sc scope, asBool bool) (*program, error) {
	check := &scopeCheck{scope: sc, ours: map[ast.Node]bool{}}
	opts := []expr.Option{expr.Env(env{})}
	opts = append(opts, helperFunctions...)
	var aggp *aggPatch
	if sc == scopeWindow && c.aggs != nil {
		aggp = &aggPatch{c: c, node: n, key: key, offset: offset, ours: check.ours}
		opts = append(opts, aggregateFunctions(true)...)
		opts = append(opts, expr.Patch(aggp))
	} else {
		opts = append(opts, aggregateFunctions(false)...)
	}
	// varsPatch sees vars.NAME before varsWhole turns a bare vars into
	// the whole map.
	opts = append(opts, expr.Patch(check), expr.Patch(&varsPatch{vars: c.vars, check: check}),
		expr.Patch(varsWhole{c.vars}), expr.Patch(nowPatch{}))
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	p, err := expr.Compile(src, opts...)
	// The patches ran before expr's type check: their findings explain
	// what the type check then trips on (count() in a plain rule is a
	// call of the int field count).
	switch {
	case aggp != nil && aggp.err != nil:
		return nil, aggp.err
	case check.bad != nil:
		return nil, check.err(src)
	case err != nil:
		return nil, err
	}
	field := -1
	if i, ok := fieldIndex[strings.TrimSpace(src)]; ok && sc != scopeWindow {
		field = i
	}
	return &program{src: src, prog: p, field: field, fast: compileTop(p.Node()), pred: compilePred(p.Node())}, nil
}

// scopeCheck rejects names that the expression's place does not offer.
// Identifiers inside aggregate calls are checked when the aggregate's
// argument is compiled on its own, so aggPatch runs first and removes them.
type scopeCheck struct {
	scope scope
	ours  map[ast.Node]bool // nodes the patches made, not the rule's author
	bad   *file.Error
	badAt ast.Node // the node bad is about
}

func (s *scopeCheck) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if s.bad != nil || s.ours[n] {
			return
		}
		if msg := s.refuse(n.Value); msg != "" {
			s.bad, s.badAt = &file.Error{Location: n.Location(), Message: msg}, n
		}
	case *ast.CallNode:
		// The callee was visited first: an aggregate's name explains
		// better as an aggregate than as a name.
		id, ok := n.Callee.(*ast.IdentifierNode)
		if ok && aggregateNames[id.Value] && s.scope != scopeWindow && (s.bad == nil || s.badAt == n.Callee) {
			s.bad, s.badAt = &file.Error{Location: n.Location(),
				Message: fmt.Sprintf("%s() is an aggregate: it can only be used in window rules (when, resolve_when and their actions)", id.Value)}, n
		}
	}
}

func (s *scopeCheck) refuse(name string) string {
	switch {
	case strings.HasPrefix(name, "__"):
		return fmt.Sprintf("unknown name %s", name)
	case name == "prev" && s.scope != scopeSequence:
		return "prev is only available in sequence rules (after:)"
	case name == "count" && s.scope != scopeEvery:
		return "count is only available in every rules (the count reached) and, as count(), in window rules"
	case name == "group" && s.scope != scopeEvery && s.scope != scopeWindow:
		return "group is only available in rules with group_by (window and every rules)"
	case s.scope == scopeWindow && isEventField[name]:
		return fmt.Sprintf("%s is a field of one event: in window rules use it inside an aggregate, e.g. count(%s == ...)", name, name)
	}
	return ""
}

func (s *scopeCheck) err(src string) error {
	if s.bad == nil {
		return nil
	}
	return s.bad.Bind(file.NewSource(src))
}

// varsPatch replaces vars.NAME (and vars["NAME"]) by the constant, so a
// variable is typed at load and an unknown one is an error.
type varsPatch struct {
	vars  map[string]any
	check *scopeCheck
}

func (p *varsPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "vars" {
			return
		}
		name, ok := n.Property.(*ast.StringNode)
		if !ok {
			return
		}
		v, ok := p.vars[name.Value]
		if !ok {
			if p.check.bad == nil {
				p.check.bad = &file.Error{Location: id.Location(), Message: fmt.Sprintf("unknown variable vars.%s", name.Value)}
			}
			return
		}
		ast.Patch(node, &ast.ConstantNode{Value: v})
	}
}

// varsWhole replaces a bare `vars` (not followed by .NAME) by the map.
type varsWhole struct{ vars map[string]any }

func (p varsWhole) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.IdentifierNode); ok && n.Value == "vars" {
		ast.Patch(node, &ast.ConstantNode{Value: p.vars})
	}
}

// nowPatch turns now() into the engine clock, so expressions never read the
// wall clock.
type nowPatch struct{}

func (nowPatch) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.CallNode); ok {
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "now" && len(n.Arguments) == 0 {
			ast.Patch(node, &ast.IdentifierNode{Value: "__now"})
		}
	}
}

// helperFunctions are the functions rules may call besides expr's builtins.
var helperFunctions = []expr.Option{
	expr.Function("now", func(...any) (any, error) {
		return nil, fmt.Errorf("now() must be patched")
	}, new(func() time.Time)),
	expr.Function("percent", func(p ...any) (any, error) {
		return percent(toFloat(p[0])), nil
	}, new(func(float64) string), new(func(int) string), new(func(int64) string)),
	expr.Function("urlquery", func(p ...any) (any, error) {
		return url.QueryEscape(p[0].(string)), nil
	}, new(func(string) string)),
}

// aggregateFunctions declares the aggregates with typed signatures so
// count() parses (overriding expr's builtin count) and arguments are type
// checked. In window expressions aggPatch replaces every call before it runs.
func aggregateFunctions(window bool) []expr.Option {
	fail := func(...any) (any, error) { return nil, fmt.Errorf("aggregate outside a window rule") }
	return []expr.Option{
		expr.Function("count", fail, new(func() int), new(func(bool) int)),
		expr.Function("ratio", fail, new(func(bool) float64)),
		expr.Function("sum", fail, new(func(float64) float64), new(func(int) float64), new(func(int64) float64)),
		expr.Function("avg", fail, new(func(float64) float64), new(func(int) float64), new(func(int64) float64)),
		expr.Function("distinct", fail, new(func(any) int)),
	}
}

// percent formats a ratio as a percentage with at most one decimal: 0.634 → "63.4%".
func percent(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) + "%"
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint64:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	case bool:
		if x {
			return 1
		}
	}
	return 0
}
