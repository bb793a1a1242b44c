package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/file"

	"github.com/expr-lang/expr/ast"
	"gopkg.in/yaml.v3"
)

// errReported stops a compilation whose error was already reported.
var errReported = errors.New("reported")

// aggregate is one aggregate call of a window rule. Its argument is compiled
// as its own per-event program; the window keeps one running value per
// aggregate per bucket, and the call in `when` or a template is replaced by a
// read of that value.
type aggregate struct {
	kind  aggKind
	src   string   // the call as printed, to share one value between uses
	arg   *program // nil for count()
	slot  int      // index in env.AggI (count, distinct) or env.AggF (others)
	isInt bool
}

// aggKind is an aggregate's function, with count() and count(pred) apart.
type aggKind uint8

const (
	aggCount    aggKind = iota // count(): the bucket's n
	aggCountIf                 // count(pred): an int slot
	aggRatio                   // ratio(pred): a float slot, divided by n
	aggSum                     // sum(x): a float slot
	aggAvg                     // avg(x): a float slot, divided by n
	aggDistinct                // distinct(x): the values seen, and an int slot for their number
)

var aggKinds = map[string]aggKind{"ratio": aggRatio, "sum": aggSum, "avg": aggAvg, "distinct": aggDistinct}

// aggPatch replaces aggregate calls by reads of their slots, compiling each
// new aggregate's argument against a single event.
type aggPatch struct {
	c      *exprCompiler
	node   *yaml.Node
	key    string
	offset int
	ours   map[ast.Node]bool
	err    error
}

func (p *aggPatch) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || p.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || !aggregateNames[id.Value] {
		return
	}
	a := p.find(call, id.Value)
	if a == nil {
		return
	}
	name := "__aggf"
	if a.isInt {
		name = "__aggi"
	}
	id = &ast.IdentifierNode{Value: name}
	p.ours[id] = true
	ast.Patch(node, &ast.MemberNode{Node: id, Property: &ast.IntegerNode{Value: a.slot}})
}

// find returns the rule's aggregate for call, adding it when it is new.
func (p *aggPatch) find(call *ast.CallNode, fn string) *aggregate {
	src := call.String()
	for _, a := range *p.c.aggs {
		if a.src == src {
			return a
		}
	}
	want := 1
	if fn == "count" && len(call.Arguments) == 0 {
		want = 0
	}
	if len(call.Arguments) != want {
		p.err = fmt.Errorf("%s() takes one argument: %s(expression)", fn, fn)
		if fn == "count" {
			p.err = fmt.Errorf("count() takes no argument or a condition: count() or count(event == \"open\")")
		}
		return nil
	}
	a := &aggregate{kind: aggKinds[fn], src: src, isInt: fn == "count" || fn == "distinct"}
	if fn == "count" && want == 1 {
		a.kind = aggCountIf
	}
	if want == 1 {
		arg := call.Arguments[0].String()
		prog, err := p.c.compileRaw(p.node, p.key, arg, 0, scopeEvent, fn == "count" || fn == "ratio")
		if err != nil {
			p.reportArg(call, arg, err)
			p.err = errReported
			return nil
		}
		a.arg = prog
	}
	a.slot = p.c.countSlots(a.isInt)
	*p.c.aggs = append(*p.c.aggs, a)
	return a
}

// reportArg reports an error in an aggregate's argument against the whole
// expression, so the caret points into what the author wrote.
func (p *aggPatch) reportArg(call *ast.CallNode, arg string, err error) {
	var fe *file.Error
	src := p.node.Value[p.offset:]
	start := strings.Index(src, arg) // the argument as printed; usually as written
	if start < 0 || !errors.As(err, &fe) {
		p.c.errs.expr(p.node, p.offset, p.c.rule, p.key, err)
		return
	}
	// expr's columns count runes on the error's line of the argument.
	at := start + len(string([]rune(arg)[:min(fe.From, len([]rune(arg)))]))
	whole := (&file.Error{Location: file.Location{From: len([]rune(src[:at]))}, Message: fe.Message}).Bind(file.NewSource(src))
	p.c.errs.expr(p.node, p.offset, p.c.rule, p.key, whole)
}

// countSlots returns the next free slot of the kind.
func (c *exprCompiler) countSlots(isInt bool) int {
	n := 0
	for _, a := range *c.aggs {
		if a.isInt == isInt {
			n++
		}
	}
	return n
}
