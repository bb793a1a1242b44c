package webhook

import (
	"encoding/binary"
	"math/bits"
)

// This file holds the allocation-free JSON syntax scanner behind Check. It
// accepts exactly what encoding/json.Valid accepts (RFC 8259, strings not
// checked for valid UTF-8, at most maxDepth nested containers), so the two
// can be compared in fuzz tests. Each function that can fail returns the
// offset of the first byte that is not JSON and false.

// maxDepth is the deepest nesting accepted; encoding/json refuses deeper
// values, and Check must agree with json.Valid.
const maxDepth = 10000

// kindStack records, one bit per nesting level, whether each open container
// is an object (1) or an array (0). It lives on the caller's stack.
type kindStack [maxDepth/64 + 1]uint64

func (k *kindStack) set(depth int, object bool) {
	w, bit := depth>>6, uint64(1)<<(depth&63)
	if object {
		k[w] |= bit
	} else {
		k[w] &^= bit
	}
}

func (k *kindStack) isObject(depth int) bool {
	return k[depth>>6]&(uint64(1)<<(depth&63)) != 0
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue validates the JSON value that starts at b[i] and returns the
// index just past it. depth is the nesting depth of the value's container
// (0 at the top level). Containers are tracked in st, not by recursion.
func skipValue(b []byte, i, depth int, st *kindStack) (int, bool) {
	base := depth
	for {
		// A value is due at b[i]; whitespace is already skipped.
		var ok bool
		if i >= len(b) {
			return i, false
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth++; depth > maxDepth {
				return i, false
			}
			st.set(depth, c == '{')
			if i = skipSpace(b, i+1); i < len(b) && b[i] == c+2 { // '}' == '{'+2, ']' == '['+2
				i, depth, ok = i+1, depth-1, true
				break
			}
			if c == '{' {
				if i, ok = skipKey(b, i); !ok {
					return i, false
				}
			}
			continue
		case '"':
			i, ok = skipString(b, i)
		case 't':
			i, ok = skipLiteral(b, i, "true")
		case 'f':
			i, ok = skipLiteral(b, i, "false")
		case 'n':
			i, ok = skipLiteral(b, i, "null")
		default:
			i, ok = skipNumber(b, i)
		}
		if !ok {
			return i, false
		}
		if i, depth, ok = closeContainers(b, i, depth, base, st); !ok || depth == base {
			return i, ok
		}
	}
}

// closeContainers consumes what follows a value: closing brackets, then
// either the end of the outermost value (depth == base) or a comma (and, in
// an object, the next key), leaving i where the next value is due.
func closeContainers(b []byte, i, depth, base int, st *kindStack) (int, int, bool) {
	for depth > base {
		if i = skipSpace(b, i); i >= len(b) {
			return i, depth, false
		}
		object := st.isObject(depth)
		switch c := b[i]; {
		case c == ',':
			i = skipSpace(b, i+1)
			if !object {
				return i, depth, true
			}
			i, ok := skipKey(b, i)
			return i, depth, ok
		case c == '}' && object, c == ']' && !object:
			i, depth = i+1, depth-1
		default:
			return i, depth, false
		}
	}
	return i, depth, true
}

// skipKey validates an object key and its colon at b[i] and returns the
// index where the member's value starts.
func skipKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := skipString(b, i)
	if !ok {
		return i, false
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

// skipLiteral validates the literal lit (true, false or null) at b[i].
func skipLiteral(b []byte, i int, lit string) (int, bool) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, false
		}
	}
	return i + len(lit), true
}

// skipNumber validates the number at b[i]:
// -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// SWAR constants: lo has 1 in every byte, hi the top bit of every byte.
const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// stringStops returns a mask with the top bit set in the lowest byte of x
// (little-endian) that is '"', '\\' or a control character; higher bytes may
// be flagged falsely, the lowest flagged one never is.
func stringStops(x uint64) uint64 {
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((q - lo) &^ q & hi) | ((s - lo) &^ s & hi) | ((x - lo*0x20) &^ x & hi)
}

// skipString validates the string whose opening quote is b[i] and returns
// the index just past its closing quote. Plain runs are checked eight bytes
// at a time.
func skipString(b []byte, i int) (int, bool) {
	i++
	for {
		for i+8 <= len(b) {
			if m := stringStops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return i, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			var ok bool
			if i, ok = skipEscape(b, i+1); !ok {
				return i, false
			}
		case c < 0x20:
			return i, false
		default:
			i++
		}
	}
}

// skipEscape validates the escape whose backslash precedes b[i].
func skipEscape(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 1, true
	case 'u':
		for k := 1; k <= 4; k++ {
			if i+k >= len(b) || unhex(b[i+k]) < 0 {
				return i + k, false
			}
		}
		return i + 5, true
	}
	return i, false
}

// unhex returns the value of the hex digit c, or -1.
func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}
