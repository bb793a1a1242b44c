package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/file"
	"gopkg.in/yaml.v3"
)

// LoadError is one problem in a rules file: where it is (file, line and
// column, 1-based), which rule and key it concerns, and for expressions the
// offending line with a caret under the error.
type LoadError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Rule    string `json:"rule,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
	Snippet string `json:"snippet,omitempty"`
}

// Error formats the error as file:line:col: rule "x": key: message, followed
// by the snippet when there is one.
func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Snippet != "" {
		b.WriteString("\n")
		b.WriteString(e.Snippet)
	}
	return b.String()
}

// LoadErrors is every problem found in one rules file, in file order.
type LoadErrors []*LoadError

// Error lists the errors, one per line (snippets on the lines below them).
func (es LoadErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// AsLoadErrors returns the load errors inside err, or nil.
func AsLoadErrors(err error) LoadErrors {
	var es LoadErrors
	if errors.As(err, &es) {
		return es
	}
	var e *LoadError
	if errors.As(err, &e) {
		return LoadErrors{e}
	}
	return nil
}

// errs collects load errors for one file while it is parsed.
type errs struct {
	file     string
	lines    []string // the file's lines, to place errors inside block scalars
	list     LoadErrors
	warnings []string
}

// warn records something that loads but is probably a mistake.
func (c *errs) warn(n *yaml.Node, rule, key, format string, args ...any) {
	w := &LoadError{File: c.file, Line: n.Line, Column: n.Column, Rule: rule, Key: key, Message: fmt.Sprintf(format, args...)}
	c.warnings = append(c.warnings, "warning: "+w.Error())
}

func (c *errs) at(n *yaml.Node, rule, key, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	c.list = append(c.list, &LoadError{File: c.file, Line: line, Column: col,
		Rule: rule, Key: key, Message: fmt.Sprintf(format, args...)})
}

// expr reports an expr-lang error found in the scalar n, translating expr's
// position (relative to the expression, possibly offset inside a template)
// into a file position and keeping expr's caret snippet.
func (c *errs) expr(n *yaml.Node, offset int, rule, key string, err error) {
	le := &LoadError{File: c.file, Line: n.Line, Column: n.Column, Rule: rule, Key: key, Message: err.Error()}
	var fe *file.Error
	if !errors.As(err, &fe) {
		// Errors about the whole expression (a non-bool result) come
		// without a position: point at its start.
		fe = (&file.Error{Message: err.Error()}).Bind(file.NewSource(n.Value[offset:]))
	}
	{
		le.Message = fe.Message
		le.Snippet = strings.TrimPrefix(fe.Snippet, "\n")
		switch n.Style {
		case yaml.LiteralStyle, yaml.FoldedStyle:
			le.Line = n.Line + fe.Line
			le.Column = c.indent(n.Line+1) + 1 + fe.Column // the block's indentation, from its first line
		case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
			le.Line = n.Line + fe.Line - 1
			le.Column = n.Column + 1 + offset + fe.Column
		default:
			le.Line = n.Line + fe.Line - 1
			le.Column = n.Column + offset + fe.Column
		}
	}
	c.list = append(c.list, le)
}

// indent returns how many spaces start line (1-based) of the file.
func (c *errs) indent(line int) int {
	if line < 1 || line > len(c.lines) {
		return 0
	}
	l := c.lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " "))
}

// err returns the errors in file order, or nil.
func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	sort.SliceStable(c.list, func(i, j int) bool {
		a, b := c.list[i], c.list[j]
		return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
	})
	return c.list
}

// Unwrap returns the errors one by one (errors.Is/As see each of them).
func (es LoadErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
