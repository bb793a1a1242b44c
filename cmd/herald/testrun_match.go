package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Values are compared in a canonical form, the shape JSON gives them:
// map[string]any, []any, string, bool, nil and json.Number. Expectations
// come from YAML, firings from the engine; both are brought to it.

// canonicalNode converts a YAML value. Integers keep their digits.
func canonicalNode(n *yaml.Node) any {
	if n.Kind == yaml.AliasNode {
		return canonicalNode(n.Alias)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = canonicalNode(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = canonicalNode(c)
		}
		return l
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return canonicalNode(n.Content[0])
		}
		return nil
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		_ = n.Decode(&b)
		return b
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if n.Decode(&u) == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return n.Value
}

// canonical converts a Go value (rendered actions) through JSON.
func canonical(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var out any
	_ = d.Decode(&out)
	return out
}

// subset reports how got differs from want: every key of a wanted mapping
// must be in got with a matching value (got may have more keys); lists
// match element by element and must have the same length; numbers compare
// by value. It returns nil when got matches.
func subset(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s is %s, want a mapping %s", path, flowYAML(got), flowYAML(want))}
		}
		var diffs []string
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok && w[k] != nil {
				diffs = append(diffs, fmt.Sprintf("%s: missing, want %s", join(path, k), flowYAML(w[k])))
				continue
			}
			diffs = append(diffs, subset(join(path, k), w[k], gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s is %s, want a list %s", path, flowYAML(got), flowYAML(want))}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s has %d item(s), want %d (use {} to skip one)", path, len(g), len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, subset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	}
	if !scalarEqual(want, got) {
		return []string{fmt.Sprintf("%s is %s, want %s%s", path, flowYAML(got), flowYAML(want), typeHint(want, got))}
	}
	return nil
}

// typeHint explains a number that was expected as text, or text expected
// as a number: a template that is exactly one {{ expression }} keeps the
// expression's type.
func typeHint(want, got any) string {
	ws, wStr := want.(string)
	gn, gNum := got.(json.Number)
	if wStr && gNum && ws == gn.String() {
		return " (the rule renders the number " + gn.String() + ", not text: write it without quotes)"
	}
	wn, wNum := want.(json.Number)
	gs, gStr := got.(string)
	if wNum && gStr && gs == wn.String() {
		return " (the rule renders the text \"" + gs + "\", not a number: write it in quotes)"
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func scalarEqual(want, got any) bool {
	wn, wok := want.(json.Number)
	gn, gok := got.(json.Number)
	if wok && gok {
		if wi, err := wn.Int64(); err == nil {
			if gi, err := gn.Int64(); err == nil {
				return wi == gi
			}
		}
		wf, err1 := wn.Float64()
		gf, err2 := gn.Float64()
		return err1 == nil && err2 == nil && wf == gf
	}
	return want == got
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flowYAML formats a value as YAML flow style, keys sorted, the way a test
// writes it: {mailjet: {template_id: 4242, to: a@x.com}}. It can be pasted
// into expect.
func flowYAML(v any) string {
	var b strings.Builder
	writeFlow(&b, canonicalize(v))
	return b.String()
}

// canonicalize brings Go values that are not canonical yet to that form.
func canonicalize(v any) any {
	switch v.(type) {
	case nil, string, bool, json.Number:
		return v
	case map[string]any:
		if isCanonical(v) {
			return v
		}
	case []any:
		if isCanonical(v) {
			return v
		}
	}
	return canonical(v)
}

func isCanonical(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return true
	case map[string]any:
		for _, e := range x {
			if !isCanonical(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !isCanonical(e) {
				return false
			}
		}
		return true
	}
	return false
}

func writeFlow(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(yamlString(k))
			b.WriteString(": ")
			writeFlow(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, e)
		}
		b.WriteByte(']')
	case string:
		b.WriteString(yamlString(x))
	default:
		fmt.Fprint(b, x)
	}
}

var plainSafe = regexp.MustCompile(`^[A-Za-z_/.@+$(][A-Za-z0-9_/.@+$()%=' -]*$`)

// yamlString writes s plain when YAML reads it back as the same string,
// else double-quoted.
func yamlString(s string) string {
	if plainSafe.MatchString(s) && !strings.HasSuffix(s, " ") && !strings.Contains(s, " -") {
		var back any
		if yaml.Unmarshal([]byte("["+s+"]"), &back) == nil {
			if l, ok := back.([]any); ok && len(l) == 1 && l[0] == s {
				return s
			}
		}
	}
	return strconv.Quote(s)
}

// offset formats a duration from a test's start: 0s, 90s → 1m30s, 2h,
// 24h, 26h0m5s → 26h5s.
func offset(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}
