package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ParseOptions tune how a rules file is checked.
type ParseOptions struct {
	// Connections maps herald.yaml's connection names to their types. When
	// non-nil, an action naming an unknown connection, or one of another
	// type, is a load error.
	Connections map[string]string
}

// LoadFile reads and compiles a rules file. Errors are LoadErrors naming
// file:line:col, the rule and the key; every error of the file is reported.
func LoadFile(path string, opt ParseOptions) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return Parse(path, data, opt)
}

// Parse compiles the rules in data; file names them in errors.
func Parse(file string, data []byte, opt ParseOptions) (*RuleSet, error) {
	e := &errs{file: file, lines: strings.Split(string(data), "\n")}
	sum := sha256.Sum256(data)
	rs := &RuleSet{File: file, Version: hex.EncodeToString(sum[:6]), Vars: map[string]any{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e.list = append(e.list, yamlError(file, err))
		return nil, e.err()
	}
	if len(doc.Content) == 0 {
		e.at(&doc, "", "", "the rules file is empty (want version: 1 and rules:)")
		return nil, e.err()
	}
	root := doc.Content[0]
	top := mappingKeys(e, root, "", "", "version", "vars", "rules")
	if top == nil {
		return nil, e.err()
	}
	if v := top["version"]; v == nil {
		e.at(root, "", "version", "missing: add version: 1")
	} else if v.Value != "1" {
		e.at(v, "", "version", "unsupported version %q (want 1)", v.Value)
	}
	if v := top["vars"]; v != nil {
		if v.Kind != yaml.MappingNode {
			e.at(v, "", "vars", "must be a mapping of names to values")
		} else if err := v.Decode(&rs.Vars); err != nil {
			e.at(v, "", "vars", "%v", err)
		}
	}
	rules := top["rules"]
	switch {
	case rules == nil:
		e.at(root, "", "rules", "missing: add a list of rules")
	case rules.Kind != yaml.SequenceNode:
		e.at(rules, "", "rules", "must be a list of rules")
	default:
		names := map[string]bool{}
		for _, rn := range rules.Content {
			p := &ruleParser{errs: e, opt: opt, vars: rs.Vars}
			r := p.parse(rn)
			if r == nil {
				continue
			}
			if names[r.Name] {
				e.at(rn, r.Name, "name", "duplicate rule name %q", r.Name)
			}
			names[r.Name] = true
			rs.Rules = append(rs.Rules, r)
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	rs.Warnings = e.warnings
	rs.index()
	return rs, nil
}

// yamlError turns a YAML syntax error into a LoadError with its line.
func yamlError(file string, err error) *LoadError {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(strings.Replace(msg, m[0], "", 1))
	}
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "yaml: "))
	return &LoadError{File: file, Line: line, Column: 1, Message: "YAML: " + msg}
}

var yamlLine = regexp.MustCompile(`line (\d+):`)

// index builds the per-type lookup the engine dispatches events with.
func (rs *RuleSet) index() {
	rs.byType = map[string][]*Rule{}
	for _, r := range rs.Rules {
		if !r.Enabled {
			continue
		}
		if r.onAll {
			// Every event reaches it through rs.any, including its after
			// or unless type: not through byType too.
			rs.any = append(rs.any, r)
			continue
		}
		types := map[string]bool{}
		for _, t := range r.On {
			types[t] = true
		}
		if r.other != "" {
			types[r.other] = true
		}
		for t := range types {
			if t != "*" {
				rs.byType[t] = append(rs.byType[t], r)
			}
		}
	}
	// Rules keep file order within each type.
	for t, list := range rs.byType {
		rs.byType[t] = orderByLine(list)
	}
}

func orderByLine(list []*Rule) []*Rule {
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && list[j].Line < list[j-1].Line; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
	return list
}

// Rule returns the rule named name, or nil.
func (rs *RuleSet) Rule(name string) *Rule {
	for _, r := range rs.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// mappingKeys checks that n is a mapping with only the allowed keys, each
// once, and returns them by name. It returns nil after reporting an error
// when n is not a mapping.
func mappingKeys(e *errs, n *yaml.Node, rule, key string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		e.at(n, rule, key, "must be a mapping with keys %s", strings.Join(allowed, ", "))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		full := name
		if key != "" {
			full = key + "." + name
		}
		switch {
		case !contains(allowed, name):
			e.at(k, rule, full, "unknown key%s (allowed: %s)", suggest(name, allowed), strings.Join(allowed, ", "))
		case out[name] != nil:
			e.at(k, rule, full, "duplicate key")
		default:
			out[name] = v
		}
	}
	return out
}

// suggest returns ` (did you mean "x"?)` for the nearest near miss.
func suggest(name string, allowed []string) string { return Suggest(name, allowed) }

// Suggest returns ` (did you mean "x"?)` naming the candidate nearest to
// name (at most two edits, case aside), or "".
func Suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, a := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" || best == name {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParseDuration parses a Go duration ("15m", "1h30m") or whole days ("7d",
// "30d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("invalid duration %q (examples: 90s, 15m, 24h, 7d)", orig)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, bad
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad
	}
	return days + d, nil
}

// FormatDuration writes a duration the way rules write them: "30d",
// "1d12h", "24h" → "1d", "90m" → "1h30m", "15s".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return b.String()
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	b.WriteString(s)
	return b.String()
}
