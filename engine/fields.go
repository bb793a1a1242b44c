package engine

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/ast"
)

// fieldSet is a set of Event fields, by their index in the struct.
type fieldSet uint32

// allFields is every field.
var allFields = fieldSet(1<<len(eventFields) - 1)

// field describes one Event field for packing.
type field struct {
	off  uintptr
	kind reflect.Kind // String, Int64, Bool, Map (Extra, PayloadMap) or Struct (Received)
	name string
}

var fields = func() []field {
	t := reflect.TypeOf(Event{})
	out := make([]field, t.NumField())
	for i := range out {
		f := t.Field(i)
		out[i] = field{off: f.Offset, kind: f.Type.Kind(), name: f.Tag.Get("expr")}
	}
	return out
}()

var fieldIndex = func() map[string]int {
	m := map[string]int{}
	for i, f := range fields {
		m[f.name] = i
	}
	return m
}()

// collectFields returns what stored events must keep: cur, the fields an
// event stored for later (an absence's start, a sequence's early successor)
// is read for when it fires; prev, the fields a sequence reads as prev.X
// from its stored predecessors. An absence's `if` ran at the start and is
// not needed later.
func collectFields(r *Rule) (cur, prev fieldSet) {
	var prevNames, prevMembers int
	v := fieldVisitor{cur: &cur, prev: &prev, prevNames: &prevNames, prevMembers: &prevMembers}
	visit := func(p *program) {
		if p != nil {
			node := p.prog.Node()
			ast.Walk(&node, v)
		}
	}
	visit(r.by)
	if r.Kind != KindAbsence {
		visit(r.cond)
	}
	if r.limit != nil {
		visit(r.limit.by)
	}
	for _, list := range [][]*actionSpec{r.do, r.onResolve} {
		for _, a := range list {
			a.params.programs(visit)
		}
	}
	if prevNames > prevMembers {
		prev = allFields // prev used whole, e.g. passed to a function
	}
	payload, raw := fieldSet(1)<<fieldIndex["payload"], fieldSet(1)<<fieldIndex["Payload"]
	for _, fs := range []*fieldSet{&cur, &prev} {
		if *fs&payload != 0 {
			*fs |= raw // payload is parsed again from Payload
		}
	}
	// Suppression needs the recipient of every firing.
	return cur | 1<<fieldIndex["email"], prev
}

// readsPrev reports whether p reads prev (or the whole environment).
func readsPrev(p *program) bool { return reads(p, "prev", "$env") }

// readsNow reports whether an expression reads the clock (now()).
func readsNow(p *program) bool { return reads(p, "__now", "$env") }

// reads reports whether p reads one of the names.
func reads(p *program, names ...string) bool {
	if p == nil {
		return false
	}
	v := &nameVisitor{names: names}
	node := p.prog.Node()
	ast.Walk(&node, v)
	return v.found
}

type nameVisitor struct {
	names []string
	found bool
}

func (v *nameVisitor) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.IdentifierNode); ok && contains(v.names, n.Value) {
		v.found = true
	}
}

// fieldVisitor marks the event fields an expression reads, and the prev
// fields; it counts prev names and prev.X members to spot a bare prev.
type fieldVisitor struct {
	cur, prev              *fieldSet
	prevNames, prevMembers *int
}

func (v fieldVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if i, ok := fieldIndex[n.Value]; ok {
			*v.cur |= 1 << i
		}
		switch n.Value {
		case "$env":
			*v.cur = allFields
		case "prev":
			*v.prevNames++
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "prev" {
			return
		}
		*v.prevMembers++
		if s, ok := n.Property.(*ast.StringNode); ok {
			if i, ok := fieldIndex[s.Value]; ok {
				*v.prev |= 1 << i
				return
			}
		}
		*v.prev = allFields
	}
}

// programs calls fn for every expression in the value.
func (v *value) programs(fn func(*program)) {
	if v.tmpl != nil {
		for _, p := range v.tmpl.parts {
			if p.prog != nil {
				fn(p.prog)
			}
		}
	}
	for _, x := range v.m {
		x.programs(fn)
	}
	for _, x := range v.list {
		x.programs(fn)
	}
}

// pack keeps the fields fs of ev in one string: stored events (pending
// sequences and absence timers) cost their few needed bytes, not a whole
// Event.
func pack(ev *Event, fs fieldSet) string {
	return string(appendPacked(nil, ev, fs))
}

// appendPacked appends pack(ev, fs) to b.
func appendPacked(b []byte, ev *Event, fs fieldSet) []byte {
	for rest := fs; rest != 0; rest &= rest - 1 {
		f := fields[bits.TrailingZeros32(uint32(rest))]
		p := unsafe.Add(unsafe.Pointer(ev), f.off)
		switch f.kind {
		case reflect.String:
			s := *(*string)(p)
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		case reflect.Int64:
			b = binary.AppendVarint(b, *(*int64)(p))
		case reflect.Bool:
			if *(*bool)(p) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case reflect.Struct: // Received
			b = binary.AppendVarint(b, (*time.Time)(p).UnixNano())
		case reflect.Map:
			if f.name == "extra" {
				j, _ := json.Marshal(*(*map[string]any)(p))
				b = binary.AppendUvarint(b, uint64(len(j)))
				b = append(b, j...)
			}
			// payload is derived from Payload on unpack.
		}
	}
	return b
}

// unpack restores the fields fs packed in s into ev.
func unpack(s string, fs fieldSet, ev *Event) {
	for rest := fs; rest != 0; rest &= rest - 1 {
		f := fields[bits.TrailingZeros32(uint32(rest))]
		p := unsafe.Add(unsafe.Pointer(ev), f.off)
		switch f.kind {
		case reflect.String:
			n, k := binary.Uvarint([]byte(s[:min(len(s), 10)]))
			*(*string)(p) = s[k : k+int(n)]
			s = s[k+int(n):]
		case reflect.Int64:
			v, k := binary.Varint([]byte(s[:min(len(s), 10)]))
			*(*int64)(p) = v
			s = s[k:]
		case reflect.Bool:
			*(*bool)(p) = s[0] == 1
			s = s[1:]
		case reflect.Struct:
			v, k := binary.Varint([]byte(s[:min(len(s), 10)]))
			*(*time.Time)(p) = time.Unix(0, v).UTC()
			s = s[k:]
		case reflect.Map:
			if f.name == "extra" {
				n, k := binary.Uvarint([]byte(s[:min(len(s), 10)]))
				var m map[string]any
				d := json.NewDecoder(strings.NewReader(s[k : k+int(n)]))
				d.UseNumber()
				_ = d.Decode(&m)
				*(*map[string]any)(p) = m
				s = s[k+int(n):]
			}
		}
	}
	if fs&(1<<fieldIndex["payload"]) != 0 {
		ev.PayloadMap = ParsePayload(ev.Payload)
	}
}

// ParsePayload parses a Mailjet Payload string as a JSON object (numbers as
// json.Number), returning an empty map when it is not one.
func ParsePayload(s string) map[string]any {
	m := map[string]any{}
	if len(s) < 2 || s[0] != '{' {
		return m
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return map[string]any{}
	}
	normalizeNumbers(m)
	return m
}

// hasNumbers reports whether v holds a json.Number, at any depth.
func hasNumbers(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return true
	case map[string]any:
		for _, item := range x {
			if hasNumbers(item) {
				return true
			}
		}
	case []any:
		for _, item := range x {
			if hasNumbers(item) {
				return true
			}
		}
	}
	return false
}

// normalizedCopy is normalizeNumbers on a deep copy of maps and lists.
func normalizedCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = normalizedCopy(item)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = normalizedCopy(item)
		}
		return out
	}
	return normalizeNumbers(v)
}

// normalizeNumbers turns the json.Number values of decoded JSON (in maps
// and lists, in place) into int64 when they are whole and fit, else
// float64, so expressions compare and add them as numbers.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	case map[string]any:
		for k, item := range x {
			x[k] = normalizeNumbers(item)
		}
	case []any:
		for i, item := range x {
			x[i] = normalizeNumbers(item)
		}
	}
	return v
}

// fieldValue returns field i of ev as an expression would see it.
func fieldValue(ev *Event, i int) any {
	f := fields[i]
	p := unsafe.Add(unsafe.Pointer(ev), f.off)
	switch f.kind {
	case reflect.String:
		return *(*string)(p)
	case reflect.Int64:
		return *(*int64)(p)
	case reflect.Bool:
		return *(*bool)(p)
	case reflect.Struct:
		return *(*time.Time)(p)
	case reflect.Map:
		return *(*map[string]any)(p)
	}
	return nil
}
