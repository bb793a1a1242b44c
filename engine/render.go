package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/expr-lang/expr/vm"
)

// Rendering a firing. Action parameters go straight into the JSON the
// action stream stores (Action.Params): no map is built per firing, and
// values are written as encoding/json writes them, except that <, > and &
// are not escaped (encoding/json escapes them when it embeds the params in
// a job). A firing's params, id, key and actions are cut from blocks that
// later firings go on filling and that are never written again where
// they were written: a firing allocates nothing of its own.

// renderer renders firings (value.appendJSON, actionSpec.render): the VM
// that runs expressions, escape for the values of expressions (Slack's
// escaping; nil for none), a buffer for a template's text, and the blocks
// firings are cut from.
type renderer struct {
	m      *vm.VM
	escape func(string) string
	text   []byte
	out    []byte   // where params and firing ids are rendered (actionSpec.render, firingID)
	acts   []Action // where firings' actions are kept (actions)
}

// paramsChunk is the size of the buffers rendered params are cut from.
const paramsChunk = 4 << 10

// firingID is "NAME-" and id in 16 hex digits, cut from the buffer params
// are rendered into: its bytes are never written again.
func (r *renderer) firingID(name string, id uint64) string {
	r.reserve(len(name) + 17)
	start := len(r.out)
	r.out = append(append(r.out, name...), '-')
	for shift := 60; shift >= 0; shift -= 4 {
		r.out = append(r.out, hexDigits[id>>shift&15])
	}
	return unsafe.String(&r.out[start], len(r.out)-start)
}

// key returns k as text; a number's is cut from the buffer params are
// rendered into, as firingID's.
func (r *renderer) key(k keyVal) string {
	if !k.num {
		return k.s
	}
	r.reserve(20)
	start := len(r.out)
	r.out = strconv.AppendInt(r.out, k.n, 10)
	return unsafe.String(&r.out[start], len(r.out)-start)
}

// actions returns room for n actions, cut from a block that later
// firings' actions go on filling.
func (r *renderer) actions(n int) []Action {
	if cap(r.acts)-len(r.acts) < n {
		r.acts = make([]Action, 0, max(64, n))
	}
	acts := r.acts[len(r.acts) : len(r.acts) : len(r.acts)+n]
	r.acts = r.acts[:len(r.acts)+n]
	return acts
}

// reserve starts a new buffer when the one in use has less than n bytes
// left.
func (r *renderer) reserve(n int) {
	if cap(r.out)-len(r.out) < n {
		r.out = make([]byte, 0, max(paramsChunk, 2*n))
	}
}

// appendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping: invalid UTF-8 becomes U+FFFD. Events' JSON
// (eventjson.go) uses it too.
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // as encoding/json, for JSONP
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendFast appends a fast-path value as JSON.
func appendFast(b []byte, v fval, escape func(string) string) ([]byte, error) {
	switch v.k {
	case fStr:
		if escape != nil {
			return appendString(b, escape(v.s)), nil
		}
		return appendString(b, v.s), nil
	case fInt:
		return strconv.AppendInt(b, v.i, 10), nil
	case fFloat:
		return appendFloat(b, v.f)
	case fBool:
		return strconv.AppendBool(b, v.b), nil
	}
	return append(b, "null"...), nil
}

// appendValue appends an expression's value as JSON, escaping the strings
// in it (inside maps and lists too) when escape is set.
func appendValue(b []byte, v any, escape func(string) string) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		if escape != nil {
			x = escape(x)
		}
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return appendFloat(b, x)
	}
	if escape != nil {
		v = escapeDeep(v, escape)
	}
	w := bytes.NewBuffer(b)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return bytes.TrimSuffix(w.Bytes(), []byte("\n")), nil
}

// appendFloat appends f as encoding/json writes a float64.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("%v is not a JSON number", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
