package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// A docs example is a ```yaml block of a Markdown file. Every one must be
// what it claims:
//   - a rules file, a list of rules or one rule: `herald check` accepts it
//     (single rules are wrapped into a file with the vars of
//     rules.example.yaml) with no warning;
//   - a tests file (it has tests:): `herald test` passes, its rules path
//     relative to the repository root;
//   - a block with `# error: TEXT` lines shows a mistake: the command fails
//     and prints every TEXT; with `# warning: TEXT` it succeeds and warns.
type docExample struct {
	file     string
	line     int // of the block's first line
	text     string
	errors   []string
	warnings []string
}

var docMarker = regexp.MustCompile(`#\s*(error|warning):\s*(.+?)\s*$`)

// docExamples extracts the ```yaml blocks of a Markdown file.
func docExamples(t *testing.T, path string) []docExample {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	var cur *docExample
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```yaml":
			cur = &docExample{file: path, line: n + 1}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
			if m := docMarker.FindStringSubmatch(line); m != nil {
				if m[1] == "error" {
					cur.errors = append(cur.errors, m[2])
				} else {
					cur.warnings = append(cur.warnings, m[2])
				}
			}
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed ```yaml block", path, cur.line-1)
	}
	return out
}

// exampleVars are the vars single-rule examples may use.
const exampleVars = "vars:\n  discount_template: 4242\n  reminder_template: 4243\n  promo_prefix: \"promo-\"\n"

// asFile returns the example as a file: "rules" or "tests", and its text.
func (x docExample) asFile(root string) (kind, text string) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(x.text), &doc); err != nil || len(doc.Content) == 0 {
		return "rules", x.text // a YAML mistake: check reports it
	}
	n := doc.Content[0]
	keys := map[string]bool{}
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			keys[n.Content[i].Value] = true
		}
	}
	switch {
	case keys["tests"]:
		rel := regexp.MustCompile(`(?m)^rules:\s*(\S+)`)
		return "tests", rel.ReplaceAllString(x.text, "rules: "+filepath.ToSlash(root)+"/$1")
	case keys["rules"] || keys["version"]:
		return "rules", x.text
	case n.Kind == yaml.SequenceNode:
		return "rules", "version: 1\n" + exampleVars + "rules:\n" + x.text
	}
	lines := strings.Split(strings.TrimRight(x.text, "\n"), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = "  - " + l
		} else {
			lines[i] = "    " + l
		}
	}
	return "rules", "version: 1\n" + exampleVars + "rules:\n" + strings.Join(lines, "\n") + "\n"
}

// TestDocsExamples checks every YAML example of the rules docs.
func TestDocsExamples(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"docs/rules.md", "docs/testing-rules.md"} {
		examples := docExamples(t, filepath.Join(root, doc))
		if len(examples) == 0 {
			t.Errorf("%s: no ```yaml example", doc)
		}
		for _, x := range examples {
			checkDocExample(t, root, doc, x)
		}
	}
}

func checkDocExample(t *testing.T, root, doc string, x docExample) {
	t.Helper()
	kind, text := x.asFile(root)
	path := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", path}
	if kind == "tests" {
		args = []string{"test", path}
	}
	var stdout, stderr bytes.Buffer
	code := runArgs(context.Background(), args, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	where := doc + ":" + strconv.Itoa(x.line)
	switch {
	case len(x.errors) > 0 && code == 0:
		t.Errorf("%s: herald %s succeeds, the example says it fails:\n%s\n%s", where, args[0], text, out)
	case len(x.errors) == 0 && code != 0:
		t.Errorf("%s: herald %s fails:\n%s\n%s", where, args[0], text, out)
	case len(x.warnings) == 0 && len(x.errors) == 0 && strings.Contains(stderr.String(), "warning:"):
		t.Errorf("%s: unexpected warning:\n%s", where, stderr.String())
	}
	for _, want := range append(x.errors, x.warnings...) {
		if !strings.Contains(out, want) {
			t.Errorf("%s: the output lacks %q:\n%s", where, want, out)
		}
	}
}
