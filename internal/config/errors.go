package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is one problem in a configuration: where it is, which key, what is
// wrong. Messages never contain secret values.
type Error struct {
	File      string // "" when the configuration did not come from a file
	Line, Col int    // 0 when unknown
	Key       string // dotted key path, e.g. "connections.crm.base_url"
	Msg       string
}

// Error formats e as "file:line:col: key: msg", leaving out unknown parts.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s = fmt.Sprintf("%s:%d", s, e.Line)
	}
	if e.Line > 0 && e.Col > 0 {
		s = fmt.Sprintf("%s:%d", s, e.Col)
	}
	if s != "" {
		s += ": "
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

// position is where a key's value is in the file.
type position struct{ line, col int }

// errorList collects errors in file order.
type errorList []*Error

// join sorts the errors by position and joins them; nil when empty.
func (l errorList) join() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errors.Join(errs...)
}
