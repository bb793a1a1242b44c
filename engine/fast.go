package engine

import (
	"net/url"
	"reflect"
	"strings"
	"unsafe"

	"github.com/expr-lang/expr/ast"
)

// The fast path evaluates the common shapes of conditions, keys and
// aggregate arguments directly on the environment, without expr's VM and
// its reflection and boxing: event and prev fields, group, count, the
// window's aggregate slots, constants, comparisons, startsWith, endsWith,
// contains, in (a constant list), and, or, not. compileFast returns nil for
// any other shape, which the VM then runs. Its results equal the VM's (a
// differential test runs both).

// fkind is the type of a fast value.
type fkind uint8

const (
	fNil fkind = iota
	fStr
	fInt
	fFloat
	fBool
)

// fval is a value of the fast path, unboxed.
type fval struct {
	k fkind
	s string
	i int64
	f float64
	b bool
}

type fastFn func(e *env) fval

// num returns the value as a float and whether it is a number.
func (v fval) num() (float64, bool) {
	switch v.k {
	case fInt:
		return float64(v.i), true
	case fFloat:
		return v.f, true
	}
	return 0, false
}

// any boxes the value as the VM would return it.
func (v fval) any() any {
	switch v.k {
	case fStr:
		return v.s
	case fInt:
		return v.i
	case fFloat:
		return v.f
	case fBool:
		return v.b
	}
	return nil
}

// compileTop is compileFast for a whole expression, which may also be a
// call of the helpers percent or urlquery, as templates have them:
// "{{ urlquery(email) }}". Their results are strings, and when the
// argument is not what they take the call returns nil, which sends the
// expression to the VM (inside another expression nil would be a value).
func compileTop(node ast.Node) fastFn {
	call, ok := node.(*ast.CallNode)
	if !ok {
		return compileFast(node)
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || len(call.Arguments) != 1 {
		return nil
	}
	x := compileFast(call.Arguments[0])
	if x == nil {
		return nil
	}
	switch id.Value {
	case "percent":
		return func(e *env) fval {
			if f, ok := x(e).num(); ok {
				return fval{k: fStr, s: percent(f)}
			}
			return fval{}
		}
	case "urlquery":
		return func(e *env) fval {
			if v := x(e); v.k == fStr {
				return fval{k: fStr, s: url.QueryEscape(v.s)}
			}
			return fval{}
		}
	}
	return nil
}

// compileFast returns a fast evaluator of node, or nil.
func compileFast(node ast.Node) fastFn {
	switch n := node.(type) {
	case *ast.StringNode:
		v := fval{k: fStr, s: n.Value}
		return func(*env) fval { return v }
	case *ast.IntegerNode:
		v := fval{k: fInt, i: int64(n.Value)}
		return func(*env) fval { return v }
	case *ast.FloatNode:
		v := fval{k: fFloat, f: n.Value}
		return func(*env) fval { return v }
	case *ast.BoolNode:
		v := fval{k: fBool, b: n.Value}
		return func(*env) fval { return v }
	case *ast.ConstantNode:
		if v, ok := constant(n.Value); ok {
			return func(*env) fval { return v }
		}
	case *ast.IdentifierNode:
		return fastIdentifier(n.Value)
	case *ast.MemberNode:
		return fastMember(n)
	case *ast.UnaryNode:
		return fastUnary(n)
	case *ast.BinaryNode:
		return fastBinary(n)
	}
	return nil
}

func constant(c any) (fval, bool) {
	switch x := c.(type) {
	case string:
		return fval{k: fStr, s: x}, true
	case int:
		return fval{k: fInt, i: int64(x)}, true
	case int64:
		return fval{k: fInt, i: x}, true
	case float64:
		return fval{k: fFloat, f: x}, true
	case bool:
		return fval{k: fBool, b: x}, true
	case nil:
		return fval{}, true
	}
	return fval{}, false
}

// fieldReader reads an Event field of a scalar type.
func fieldReader(name string, ev func(e *env) *Event) fastFn {
	i, ok := fieldIndex[name]
	if !ok {
		return nil
	}
	f := fields[i]
	switch f.kind {
	case reflect.String:
		return func(e *env) fval {
			p := ev(e)
			if p == nil {
				return fval{}
			}
			return fval{k: fStr, s: *(*string)(unsafe.Add(unsafe.Pointer(p), f.off))}
		}
	case reflect.Int64:
		return func(e *env) fval {
			p := ev(e)
			if p == nil {
				return fval{}
			}
			return fval{k: fInt, i: *(*int64)(unsafe.Add(unsafe.Pointer(p), f.off))}
		}
	case reflect.Bool:
		return func(e *env) fval {
			p := ev(e)
			if p == nil {
				return fval{}
			}
			return fval{k: fBool, b: *(*bool)(unsafe.Add(unsafe.Pointer(p), f.off))}
		}
	}
	return nil // maps and times: the VM
}

func fastIdentifier(name string) fastFn {
	switch name {
	case "group":
		return func(e *env) fval { return fval{k: fStr, s: e.Group} }
	case "count":
		return func(e *env) fval { return fval{k: fInt, i: e.Count} }
	}
	return fieldReader(name, func(e *env) *Event { return e.Event })
}

func fastMember(n *ast.MemberNode) fastFn {
	id, ok := n.Node.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	switch id.Value {
	case "prev":
		if s, ok := n.Property.(*ast.StringNode); ok {
			return fieldReader(s.Value, func(e *env) *Event { return e.Prev })
		}
	case "__aggi", "__aggf":
		idx, ok := n.Property.(*ast.IntegerNode)
		if !ok {
			return nil
		}
		i := idx.Value
		if id.Value == "__aggi" {
			return func(e *env) fval { return fval{k: fInt, i: e.AggI[i]} }
		}
		return func(e *env) fval { return fval{k: fFloat, f: e.AggF[i]} }
	}
	return nil
}

func fastUnary(n *ast.UnaryNode) fastFn {
	x := compileFast(n.Node)
	if x == nil {
		return nil
	}
	switch n.Operator {
	case "!", "not":
		return func(e *env) fval { v := x(e); return fval{k: fBool, b: !v.b} }
	case "-":
		return func(e *env) fval {
			v := x(e)
			switch v.k {
			case fInt:
				return fval{k: fInt, i: -v.i}
			case fFloat:
				return fval{k: fFloat, f: -v.f}
			}
			return v
		}
	}
	return nil
}

func fastBinary(n *ast.BinaryNode) fastFn {
	l := compileFast(n.Left)
	if l == nil {
		return nil
	}
	if n.Operator == "in" {
		return fastIn(l, n.Right)
	}
	r := compileFast(n.Right)
	if r == nil {
		return nil
	}
	b := func(f func(a, b fval) bool) fastFn {
		return func(e *env) fval { return fval{k: fBool, b: f(l(e), r(e))} }
	}
	switch n.Operator {
	case "&&", "and":
		return func(e *env) fval { return fval{k: fBool, b: l(e).b && r(e).b} }
	case "||", "or":
		return func(e *env) fval { return fval{k: fBool, b: l(e).b || r(e).b} }
	case "==":
		return b(equal)
	case "!=":
		return b(func(x, y fval) bool { return !equal(x, y) })
	case "<":
		return b(func(x, y fval) bool { c, ok := compare(x, y); return ok && c < 0 })
	case "<=":
		return b(func(x, y fval) bool { c, ok := compare(x, y); return ok && c <= 0 })
	case ">":
		return b(func(x, y fval) bool { c, ok := compare(x, y); return ok && c > 0 })
	case ">=":
		return b(func(x, y fval) bool { c, ok := compare(x, y); return ok && c >= 0 })
	case "startsWith":
		return b(func(x, y fval) bool { return strings.HasPrefix(x.s, y.s) })
	case "endsWith":
		return b(func(x, y fval) bool { return strings.HasSuffix(x.s, y.s) })
	case "contains":
		return b(func(x, y fval) bool { return strings.Contains(x.s, y.s) })
	}
	return nil
}

// fastIn handles `x in [constants]`, which expr's optimizer turns into a
// constant set.
func fastIn(l fastFn, right ast.Node) fastFn {
	c, ok := right.(*ast.ConstantNode)
	if !ok {
		return nil
	}
	switch set := c.Value.(type) {
	case map[string]struct{}:
		return func(e *env) fval {
			v := l(e)
			_, in := set[v.s]
			return fval{k: fBool, b: v.k == fStr && in}
		}
	case map[int]struct{}:
		return func(e *env) fval {
			v := l(e)
			_, in := set[int(v.i)]
			return fval{k: fBool, b: v.k == fInt && in}
		}
	}
	return nil
}

// equal is expr's ==: numbers compare as numbers, other kinds only with
// their own kind.
func equal(x, y fval) bool {
	if x.k == fInt && y.k == fInt {
		return x.i == y.i // exact: ids exceed 2^53
	}
	if a, ok := x.num(); ok {
		b, ok := y.num()
		return ok && a == b
	}
	if x.k != y.k {
		return false
	}
	switch x.k {
	case fStr:
		return x.s == y.s
	case fBool:
		return x.b == y.b
	}
	return true // nil == nil
}

// compare orders numbers and strings; ok is false for anything else.
func compare(x, y fval) (int, bool) {
	if x.k == fInt && y.k == fInt {
		return cmpInt(x.i, y.i), true
	}
	if a, ok := x.num(); ok {
		if b, ok := y.num(); ok {
			switch {
			case a < b:
				return -1, true
			case a > b:
				return 1, true
			}
			return 0, true
		}
	}
	if x.k == fStr && y.k == fStr {
		return strings.Compare(x.s, y.s), true
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// A predicate is the fast path of a condition (if, when, resolve_when):
// it returns the value and whether it could tell, without the fval a
// fastFn passes around. The common leaves — a field against a constant
// string, an aggregate or integer field against a constant number — read
// the field where it lies and compare it at once; anything else is the
// fastFn's result. ok is false exactly when the fastFn's result is not a
// bool: the VM decides then.
type predFn func(e *env) (v, ok bool)

// compilePred returns a predicate for node, or nil when the fast path
// cannot evaluate it (compileFast is nil).
func compilePred(node ast.Node) predFn {
	slow := compileFast(node)
	if slow == nil {
		return nil
	}
	if n, ok := node.(*ast.BinaryNode); ok {
		switch n.Operator {
		case "&&", "and":
			l, r := compilePred(n.Left), compilePred(n.Right)
			return func(e *env) (bool, bool) {
				if v, _ := l(e); !v {
					return false, true
				}
				v, _ := r(e)
				return v, true
			}
		case "||", "or":
			l, r := compilePred(n.Left), compilePred(n.Right)
			return func(e *env) (bool, bool) {
				if v, _ := l(e); v {
					return true, true
				}
				v, _ := r(e)
				return v, true
			}
		}
		if p := comparePred(n, slow); p != nil {
			return p
		}
	}
	return func(e *env) (bool, bool) {
		v := slow(e)
		return v.b, v.k == fBool
	}
}

// comparePred specializes `field op constant` (n's shape is known to the
// fast path: compileFast accepted it), or returns nil.
func comparePred(n *ast.BinaryNode, slow fastFn) predFn {
	c, ok := constOf(n.Right)
	if !ok {
		return nil
	}
	if f, ok := stringField(n.Left); ok && c.k == fStr {
		return stringPred(f, n.Operator, c.s, slow)
	}
	if c.k == fInt || c.k == fFloat {
		return numberPred(n.Left, n.Operator, c)
	}
	return nil
}

// constOf returns a literal's or a folded constant's value.
func constOf(node ast.Node) (fval, bool) {
	switch n := node.(type) {
	case *ast.StringNode:
		return fval{k: fStr, s: n.Value}, true
	case *ast.IntegerNode:
		return fval{k: fInt, i: int64(n.Value)}, true
	case *ast.FloatNode:
		return fval{k: fFloat, f: n.Value}, true
	case *ast.ConstantNode:
		return constant(n.Value)
	}
	return fval{}, false
}

// fieldRef locates a string field of the event or of prev.
type fieldRef struct {
	off  uintptr
	prev bool
}

// stringField reports where a string field node reads from.
func stringField(node ast.Node) (fieldRef, bool) {
	name, prev := "", false
	switch n := node.(type) {
	case *ast.IdentifierNode:
		name = n.Value
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		s, isStr := n.Property.(*ast.StringNode)
		if !ok || !isStr || id.Value != "prev" {
			return fieldRef{}, false
		}
		name, prev = s.Value, true
	default:
		return fieldRef{}, false
	}
	i, ok := fieldIndex[name]
	if !ok || fields[i].kind != reflect.String {
		return fieldRef{}, false
	}
	return fieldRef{off: fields[i].off, prev: prev}, true
}

// stringPred compares a string field with a constant. Without a prev the
// field is nil, which the fastFn (slow) handles.
func stringPred(f fieldRef, op, c string, slow fastFn) predFn {
	var test func(s string) bool
	switch op {
	case "==":
		test = func(s string) bool { return s == c }
	case "!=":
		test = func(s string) bool { return s != c }
	case "startsWith":
		test = func(s string) bool { return strings.HasPrefix(s, c) }
	case "endsWith":
		test = func(s string) bool { return strings.HasSuffix(s, c) }
	case "contains":
		test = func(s string) bool { return strings.Contains(s, c) }
	default:
		return nil
	}
	return func(e *env) (bool, bool) {
		p := e.Event
		if f.prev {
			p = e.Prev
		}
		if p == nil {
			v := slow(e)
			return v.b, v.k == fBool
		}
		return test(*(*string)(unsafe.Add(unsafe.Pointer(p), f.off))), true
	}
}

// numberPred compares an aggregate slot or count with a constant number,
// or returns nil. Integers compare exactly with an integer constant and as
// floats otherwise, as expr does.
func numberPred(node ast.Node, op string, c fval) predFn {
	var ints func(e *env) int64
	switch n := node.(type) {
	case *ast.IdentifierNode:
		if n.Value == "count" {
			ints = func(e *env) int64 { return e.Count }
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		idx, isInt := n.Property.(*ast.IntegerNode)
		if !ok || !isInt {
			return nil
		}
		i := idx.Value
		switch id.Value {
		case "__aggi":
			ints = func(e *env) int64 { return e.AggI[i] }
		case "__aggf":
			cf, _ := c.num()
			return cmpPred(func(e *env) float64 { return e.AggF[i] }, op, cf)
		}
	}
	switch {
	case ints == nil:
		return nil
	case c.k == fInt:
		return cmpPred(ints, op, c.i)
	}
	cf, _ := c.num()
	return cmpPred(func(e *env) float64 { return float64(ints(e)) }, op, cf)
}

// cmpPred compares what read returns with c.
func cmpPred[T int64 | float64](read func(e *env) T, op string, c T) predFn {
	switch op {
	case "==":
		return func(e *env) (bool, bool) { return read(e) == c, true }
	case "!=":
		return func(e *env) (bool, bool) { return read(e) != c, true }
	case "<":
		return func(e *env) (bool, bool) { return read(e) < c, true }
	case "<=":
		return func(e *env) (bool, bool) { return read(e) <= c, true }
	case ">":
		return func(e *env) (bool, bool) { return read(e) > c, true }
	case ">=":
		return func(e *env) (bool, bool) { return read(e) >= c, true }
	}
	return nil
}
