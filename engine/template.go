package engine

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// template is a string with {{ expr }} parts. A string that is exactly one
// {{ expr }} keeps the expression's type (a number stays a number in JSON).
type template struct {
	parts []tmplPart
	whole bool // the string is exactly one expression
	size  int  // a guess of the rendered length: the literal text and 16 bytes an expression
}

type tmplPart struct {
	lit  string
	prog *program
}

// value is a compiled action parameter: a template, a constant, or a map or
// list of values.
type value struct {
	tmpl     *template
	litJSON  []byte            // a constant that is not a string (number, boolean, null) as JSON
	keys     []string          // a map's keys, sorted
	keysJSON [][]byte          // the same as JSON object keys: "key":
	vals     []*value          // their values, in the same order
	m        map[string]*value // the same, by key
	list     []*value
}

// compileTemplate splits s into literal text and expressions and compiles
// each expression in scope sc.
func (c *exprCompiler) compileTemplate(n *yaml.Node, key, s string, sc scope) *template {
	t := &template{}
	failed := false
	rest, off := s, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, tmplPart{lit: rest})
			}
			break
		}
		j := closing(rest[i+2:])
		if j < 0 {
			c.errs.at(n, c.rule, key, "template: {{ at column %d has no closing }}", off+i+1)
			return nil
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:i]})
		}
		src := rest[i+2 : i+2+j]
		if strings.TrimSpace(src) == "" {
			c.errs.at(n, c.rule, key, "template: empty {{ }}")
			return nil
		}
		p := c.compileExpr(n, key, src, off+i+2, sc, false)
		if p == nil {
			failed = true // go on: report every expression's error at once
		}
		t.parts = append(t.parts, tmplPart{prog: p})
		off += i + 2 + j + 2
		rest = rest[i+2+j+2:]
	}
	if failed {
		return nil
	}
	t.whole = len(t.parts) == 1 && t.parts[0].prog != nil
	for _, p := range t.parts {
		t.size += len(p.lit)
		if p.prog != nil {
			t.size += 16
		}
	}
	return t
}

// closing returns the index of the "}}" that ends an expression, skipping
// quoted strings, or -1.
func closing(s string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'' || ch == '`':
			quote = ch
		case ch == '}' && i+1 < len(s) && s[i+1] == '}':
			return i
		}
	}
	return -1
}

// text evaluates the program for a template, as the text it shows: the
// fast path when it can tell, else the VM.
func (p *program) text(m *vm.VM, e *env) (string, error) {
	if p.fast != nil {
		switch v := p.fast(e); v.k {
		case fStr:
			return v.s, nil
		case fNil:
		default:
			return formatValue(v.any()), nil
		}
	}
	v, err := m.Run(p.prog, e)
	return formatValue(v), err
}

// appendJSON appends the template's value as JSON: the text, or for a
// whole template the expression's value with its type. escape applies to
// the values of expressions, never to the literal text the rule's author
// wrote.
func (t *template) appendJSON(b []byte, r *renderer, e *env) ([]byte, error) {
	if t.whole {
		p := t.parts[0].prog
		if p.fast != nil {
			if v := p.fast(e); v.k != fNil {
				return appendFast(b, v, r.escape)
			}
		}
		v, err := r.m.Run(p.prog, e)
		if err != nil {
			return b, err
		}
		return appendValue(b, jsonValue(v), r.escape)
	}
	text := r.text[:0]
	for _, p := range t.parts {
		if p.prog == nil {
			text = append(text, p.lit...)
			continue
		}
		s, err := p.prog.text(r.m, e)
		if err != nil {
			return b, err
		}
		if r.escape != nil {
			s = r.escape(s)
		}
		text = append(text, s...)
	}
	r.text = text
	return appendString(b, text), nil
}

// appendJSON appends a parameter tree as JSON; a map's keys come in
// sorted order, as encoding/json writes them.
func (v *value) appendJSON(b []byte, r *renderer, e *env) ([]byte, error) {
	switch {
	case v.tmpl != nil:
		return v.tmpl.appendJSON(b, r, e)
	case v.m != nil:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v.keysJSON[i]...)
			var err error
			if b, err = v.vals[i].appendJSON(b, r, e); err != nil {
				return b, fmt.Errorf("%s: %w", k, err)
			}
		}
		return append(b, '}'), nil
	case v.list != nil:
		b = append(b, '[')
		for i, item := range v.list {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = item.appendJSON(b, r, e); err != nil {
				return b, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(b, ']'), nil
	}
	return append(b, v.litJSON...), nil
}

// size is a guess of the value's length as JSON, to size buffers.
func (v *value) size() int {
	switch {
	case v.tmpl != nil:
		return v.tmpl.size + 2
	case v.m != nil:
		n := 2
		for i, k := range v.vals {
			n += len(v.keysJSON[i]) + 1 + k.size()
		}
		return n
	case v.list != nil:
		n := 2
		for _, item := range v.list {
			n += 1 + item.size()
		}
		return n
	}
	return len(v.litJSON)
}

// compileValue compiles a YAML node of action parameters.
func (c *exprCompiler) compileValue(n *yaml.Node, key string, sc scope) *value {
	switch n.Kind {
	case yaml.AliasNode:
		return c.compileValue(n.Alias, key, sc)
	case yaml.MappingNode:
		v := &value{m: map[string]*value{}}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := v.m[k]; dup {
				c.errs.at(n.Content[i], c.rule, key, "duplicate key %q", k)
				continue
			}
			v.keys = append(v.keys, k)
			v.m[k] = c.compileValue(n.Content[i+1], key+"."+k, sc)
		}
		sort.Strings(v.keys)
		for _, k := range v.keys {
			v.vals = append(v.vals, v.m[k])
			v.keysJSON = append(v.keysJSON, append(appendString(nil, k), ':'))
		}
		return v
	case yaml.SequenceNode:
		v := &value{list: make([]*value, len(n.Content))}
		for i, item := range n.Content {
			v.list[i] = c.compileValue(item, fmt.Sprintf("%s[%d]", key, i), sc)
		}
		return v
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			t := c.compileTemplate(n, key, n.Value, sc)
			if t == nil {
				return &value{}
			}
			return &value{tmpl: t}
		}
		var lit any
		if err := n.Decode(&lit); err != nil {
			c.errs.at(n, c.rule, key, "%v", err)
			return &value{litJSON: []byte("null")}
		}
		b, err := json.Marshal(lit)
		if err != nil {
			c.errs.at(n, c.rule, key, "%v", err)
			return &value{litJSON: []byte("null")}
		}
		return &value{litJSON: b}
	}
	c.errs.at(n, c.rule, key, "unexpected YAML node")
	return &value{}
}

// formatValue writes a value into a string template.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonValue turns values that don't marshal as users expect into ones that
// do: times as RFC 3339 text, durations as "1h0m0s".
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case time.Duration:
		return x.String()
	}
	return v
}

// escapeDeep escapes every string in v, inside maps and lists too, into a
// new value (v may be an event's own map).
func escapeDeep(v any, escape func(string) string) any {
	switch x := v.(type) {
	case string:
		return escape(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[escape(k)] = escapeDeep(item, escape)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = escapeDeep(item, escape)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = escape(item)
		}
		return out
	}
	return v
}

// slackEscape escapes the three characters Slack gives meaning to, so a
// value from an event cannot mention (<!channel>, <@U1>) or link (<http://…|x>).
func slackEscape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return slackReplacer.Replace(s)
}

var slackReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
