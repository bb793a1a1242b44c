package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/heraldmail/herald/engine"
)

// defaultStart is a test's start when it gives none: a fixed time, so
// firing times and ids are the same on every run.
var defaultStart = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// maxRepeat bounds `repeat`: a million events take about a second.
const maxRepeat = 1_000_000

// testFile is a parsed tests file (see docs/testing-rules.md).
type testFile struct {
	path  string
	rules *engine.RuleSet
	tests []*testCase
}

// testCase is one test: events at virtual times and what must fire.
type testCase struct {
	name     string
	line     int
	start    time.Time
	exact    bool
	steps    []testStep
	expect   []*expectation
	expectNo []string
}

// testStep is one entry of events: an event (repeated) or a clock advance.
type testStep struct {
	line     int
	to       time.Time // advance: the clock moves to it; event: when herald receives the first copy
	advance  bool
	ev       engine.Event
	timeSet  bool // the event gives Mailjet's time itself
	repeat   int
	interval time.Duration
}

// expectation is one entry of expect.
type expectation struct {
	line       int
	rule       string
	at         *time.Duration
	key        *string
	actions    any // canonical (see canonical); nil when not given
	hasActions bool
	suppressed bool
	resolve    bool
}

// testErrs collects the errors of one tests file, as file:line:col.
type testErrs struct {
	file     string
	list     []testErr
	warnings []string
}

type testErr struct {
	line, col int
	text      string
}

func (e *testErrs) at(n *yaml.Node, where, format string, args ...any) {
	x := testErr{text: e.format(n, where, format, args...)}
	if n != nil {
		x.line, x.col = n.Line, n.Column
	}
	e.list = append(e.list, x)
}

func (e *testErrs) warn(n *yaml.Node, where, format string, args ...any) {
	e.warnings = append(e.warnings, "warning: "+e.format(n, where, format, args...))
}

func (e *testErrs) format(n *yaml.Node, where, format string, args ...any) string {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	if where != "" {
		where += ": "
	}
	return fmt.Sprintf("%s:%d:%d: %s%s", e.file, line, col, where, fmt.Sprintf(format, args...))
}

// parseTestFile reads a tests file and the rules file it names. The error
// lists every problem, one per line, as file:line:col.
func parseTestFile(path string) (*testFile, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	e := &testErrs{file: path}
	tf := &testFile{path: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, yamlSyntaxError(path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("%s:1:1: the tests file is empty (want rules: and tests:)", path)
	}
	root := doc.Content[0]
	top := keysOf(e, root, "", "rules", "tests")
	if top == nil {
		return nil, e.warnings, e.err()
	}
	tf.rules = loadTestRules(e, path, root, top["rules"])
	tests := top["tests"]
	switch {
	case tests == nil:
		e.at(root, "", "tests: missing: add a list of tests")
	case tests.Kind != yaml.SequenceNode:
		e.at(tests, "tests", "must be a list of tests")
	default:
		names := map[string]bool{}
		for i, n := range tests.Content {
			tc := parseTestCase(e, tf.rules, n, fmt.Sprintf("tests[%d]", i))
			if tc == nil {
				continue
			}
			if names[tc.name] {
				e.at(n, fmt.Sprintf("tests[%d]", i), "duplicate test name %q", tc.name)
			}
			names[tc.name] = true
			tf.tests = append(tf.tests, tc)
		}
	}
	return tf, e.warnings, e.err()
}

// err returns the errors in file order, or nil.
func (e *testErrs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	sort.SliceStable(e.list, func(i, j int) bool {
		a, b := e.list[i], e.list[j]
		return a.line < b.line || (a.line == b.line && a.col < b.col)
	})
	texts := make([]string, len(e.list))
	for i, x := range e.list {
		texts[i] = x.text
	}
	return errors.New(strings.Join(texts, "\n"))
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlSyntaxError names the line of a YAML syntax error as file:line:col.
func yamlSyntaxError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := "0"
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, msg = m[1], strings.Replace(msg, m[0], "", 1)
	}
	return fmt.Errorf("%s:%s:1: YAML: %s", path, line, msg)
}

// loadTestRules loads the rules file, relative to the tests file.
func loadTestRules(e *testErrs, path string, root, n *yaml.Node) *engine.RuleSet {
	if n == nil {
		e.at(root, "", "rules: missing: the rules file to test, e.g. rules: rules.yaml")
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		e.at(n, "rules", "must be the path of a rules file")
		return nil
	}
	file := n.Value
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(path), file)
	}
	if _, err := os.Stat(file); err != nil {
		e.at(n, "rules", "cannot read %s (a path relative to the tests file): %v", file, errors.Unwrap(err))
		return nil
	}
	rs, err := engine.LoadFile(file, engine.ParseOptions{})
	if err != nil {
		if les := engine.AsLoadErrors(err); les != nil {
			e.at(n, "rules", "%s has errors (herald check %s):\n%v", file, file, err)
		} else {
			e.at(n, "rules", "%v", err)
		}
		return nil
	}
	return rs
}

// keysOf checks that n is a mapping with only the allowed keys.
func keysOf(e *testErrs, n *yaml.Node, where string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		e.at(n, where, "must be a mapping with keys %s", strings.Join(allowed, ", "))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !contains(allowed, k.Value):
			e.at(k, where, "unknown key %q%s (allowed: %s)", k.Value, engine.Suggest(k.Value, allowed), strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			e.at(k, where, "duplicate key %q", k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

var testKeys = []string{"name", "description", "start", "exact", "events", "expect", "expect_no"}

func parseTestCase(e *testErrs, rs *engine.RuleSet, n *yaml.Node, where string) *testCase {
	keys := keysOf(e, n, where, testKeys...)
	if keys == nil {
		return nil
	}
	tc := &testCase{line: n.Line, start: defaultStart}
	if v := keys["name"]; v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
		e.at(n, where, "name: missing: every test needs a name")
	} else {
		tc.name = v.Value
		where = fmt.Sprintf("%s %q", where, tc.name)
	}
	if v := keys["start"]; v != nil {
		if t, ok := parseTime(v); ok {
			tc.start = t
		} else {
			e.at(v, where, "start: want an RFC 3339 time such as 2024-03-01T09:00:00Z, got %q", v.Value)
		}
	}
	if v := keys["exact"]; v != nil {
		tc.exact = boolValue(e, v, where+": exact")
	}
	if v := keys["events"]; v == nil {
		e.at(n, where, "events: missing: the events the test sends")
	} else {
		tc.steps = parseSteps(e, v, where, tc.start)
	}
	if v := keys["expect"]; v != nil {
		tc.expect = parseExpect(e, rs, v, where)
	}
	if v := keys["expect_no"]; v != nil {
		tc.expectNo = parseExpectNo(e, rs, v, where)
	}
	if keys["expect"] == nil && keys["expect_no"] == nil {
		e.at(n, where, "give expect, expect_no or both: a test that expects nothing checks nothing")
	}
	return tc
}

func boolValue(e *testErrs, n *yaml.Node, where string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		e.at(n, where, "must be true or false")
	}
	return b
}

// parseTime reads an RFC 3339 time or Unix seconds.
func parseTime(n *yaml.Node) (time.Time, bool) {
	if n.Kind != yaml.ScalarNode {
		return time.Time{}, false
	}
	if n.Tag == "!!int" {
		var s int64
		if n.Decode(&s) == nil {
			return time.Unix(s, 0).UTC(), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	return t.UTC(), err == nil
}

// durationValue reads a duration (90s, 15m, 24h, 7d) that is not negative.
func durationValue(e *testErrs, n *yaml.Node, where string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		e.at(n, where, "must be a duration, e.g. 90s, 15m, 24h, 7d")
		return 0, false
	}
	if n.Value == "0" {
		return 0, true
	}
	d, err := engine.ParseDuration(n.Value)
	if err != nil {
		e.at(n, where, "%v", err)
		return 0, false
	}
	if d < 0 {
		e.at(n, where, "must not be negative")
		return 0, false
	}
	return d, true
}

func parseExpectNo(e *testErrs, rs *engine.RuleSet, n *yaml.Node, where string) []string {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []string
	for _, item := range items {
		if item.Kind != yaml.ScalarNode {
			e.at(item, where, "expect_no: must be a rule name or a list of them")
			continue
		}
		if checkRule(e, rs, item, where+": expect_no") {
			out = append(out, item.Value)
		}
	}
	return out
}

// checkRule reports a rule name the rules file does not define.
func checkRule(e *testErrs, rs *engine.RuleSet, n *yaml.Node, where string) bool {
	if rs == nil {
		return true // the rules file's own errors are reported
	}
	if rs.Rule(n.Value) != nil {
		return true
	}
	names := make([]string, len(rs.Rules))
	for i, r := range rs.Rules {
		names[i] = r.Name
	}
	sort.Strings(names)
	e.at(n, where, "no rule %q in %s%s (rules: %s)", n.Value, rs.File, engine.Suggest(n.Value, names), strings.Join(names, ", "))
	return false
}

var expectKeys = []string{"rule", "at", "key", "actions", "suppressed", "resolve"}

func parseExpect(e *testErrs, rs *engine.RuleSet, n *yaml.Node, where string) []*expectation {
	if n.Kind != yaml.SequenceNode {
		e.at(n, where, "expect: must be a list, e.g. - {rule: open-discount, at: 2h}")
		return nil
	}
	var out []*expectation
	for i, item := range n.Content {
		if x := parseExpectation(e, rs, item, fmt.Sprintf("%s: expect[%d]", where, i)); x != nil {
			out = append(out, x)
		}
	}
	return out
}

func parseExpectation(e *testErrs, rs *engine.RuleSet, n *yaml.Node, where string) *expectation {
	keys := keysOf(e, n, where, expectKeys...)
	if keys == nil {
		return nil
	}
	x := &expectation{line: n.Line}
	if v := keys["rule"]; v == nil || v.Kind != yaml.ScalarNode {
		e.at(n, where, "rule: missing: which rule fires?")
	} else if checkRule(e, rs, v, where+".rule") {
		x.rule = v.Value
	}
	if v := keys["at"]; v != nil {
		if d, ok := durationValue(e, v, where+".at"); ok {
			x.at = &d
		}
	}
	if v := keys["key"]; v != nil {
		if v.Kind != yaml.ScalarNode {
			e.at(v, where+".key", "must be a single value")
		}
		x.key = &v.Value
	}
	if v := keys["actions"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			e.at(v, where+".actions", "must be a list of actions, e.g. [{mailjet: {to: a@x.com}}]")
		}
		x.actions, x.hasActions = canonicalNode(v), true
	}
	if v := keys["suppressed"]; v != nil {
		x.suppressed = boolValue(e, v, where+".suppressed")
	}
	if v := keys["resolve"]; v != nil {
		x.resolve = boolValue(e, v, where+".resolve")
	}
	return x
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
