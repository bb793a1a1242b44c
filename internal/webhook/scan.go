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

// spaceBits has bit c set for each JSON whitespace byte c.
const spaceBits = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'

// isSpace reports whether c is JSON whitespace, with one comparison for
// the bytes above ' ' that nearly all are.
func isSpace(c byte) bool { return c <= ' ' && spaceBits>>c&1 != 0 }

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue validates the JSON value that starts at b[i] and returns the
// index just past it. depth is the nesting depth of the value's container
// (0 at the top level). Containers are tracked in st, not by recursion.
// It is one loop, keys and closing brackets handled inline, because Check
// spends its time on the few bytes between strings.
func skipValue(b []byte, i, depth int, st *kindStack) (int, bool) {
	base := depth
	key := false // whether an object key is due before the value
	var ok bool
	for {
		// A value (after a key when key is set) is due at b[i]; whitespace
		// is already skipped.
		if key {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = skipString(b, i); !ok {
				return i, false
			}
			if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
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
			key = c == '{'
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
		// Close containers until a comma leads to the next value.
		for depth > base {
			if i = skipSpace(b, i); i >= len(b) {
				return i, false
			}
			object := st.isObject(depth)
			if c := b[i]; c == ',' {
				i, key = skipSpace(b, i+1), object
				break
			} else if c != ']' && !object || c != '}' && object {
				return i, false
			}
			i, depth = i+1, depth-1
		}
		if depth == base {
			return i, true
		}
	}
}

// skipObject validates the object that starts at b[i] ('{') and returns
// the index just past it, as skipValue does; depth is the nesting depth of
// its container. It is skipValue specialised for what Mailjet events are,
// objects of strings, numbers and literals: one loop over the members with
// no container bookkeeping, a nested value handed to skipValue. Where the
// object is not JSON it calls skipValue from the start, so the offset
// reported is the same.
func skipObject(b []byte, i, depth int, st *kindStack) (int, bool) {
	start := i
	if depth+1 > maxDepth {
		return skipValue(b, start, depth, st)
	}
	if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	var ok bool
	for {
		if i >= len(b) || b[i] != '"' {
			return skipValue(b, start, depth, st)
		}
		if k := matchKey(b, i); k != nil { // a field name: valid, no need to scan it
			i += 1 + k.size
		} else if i, ok = skipString(b, i); !ok {
			return skipValue(b, start, depth, st)
		}
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return skipValue(b, start, depth, st)
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return skipValue(b, start, depth, st)
		}
		// The same switch as skipValue's: one function for both is not
		// inlined, and cost Check 5% more instructions.
		switch c := b[i]; c {
		case '"':
			i, ok = skipString(b, i)
		case '{', '[':
			i, ok = skipValue(b, i, depth+1, st)
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
			return skipValue(b, start, depth, st)
		}
		if i = skipSpace(b, i); i >= len(b) {
			return skipValue(b, start, depth, st)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, true
		default:
			return skipValue(b, start, depth, st)
		}
	}
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

// skipDigits returns the index of the first byte at or after i that is not
// an ASCII digit, looking at eight bytes at a time: ids and timestamps have
// ten to twenty digits.
func skipDigits(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := nonDigits(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
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

// nonDigits returns a mask with the top bit set in the lowest byte of x
// (little-endian) that is not an ASCII digit; higher bytes may be flagged
// falsely, the lowest flagged one never is. A byte is a digit when its high
// nibble is 3 both as it is and plus 6 (which carries '9'+1.. into 4); the
// carry out of a byte of 0xFA or more only reaches bytes above one already
// flagged.
func nonDigits(x uint64) uint64 {
	y := (x&(lo*0xF0) ^ lo*0x30) | ((x+lo*0x06)&(lo*0xF0) ^ lo*0x30)
	return (y&^hi + lo*0x7F | y) & hi
}

// quotes returns a mask with the top bit set in each byte of x that is '"',
// and possibly in bytes above one that is.
func quotes(x uint64) uint64 {
	q := x ^ (lo * '"')
	return (q - lo) &^ q & hi
}

// stringStops returns a mask with the top bit set in the lowest byte of x
// (little-endian) that is '"', '\\' or a control character; higher bytes may
// be flagged falsely, the lowest flagged one never is.
//
// A byte is '"' (0x22) or a control character (below 0x20) exactly when,
// with bit 1 flipped, it is below 0x21: one test for both.
func stringStops(x uint64) uint64 {
	c := x ^ (lo * 0x02)
	s := x ^ (lo * '\\')
	return ((c-lo*0x21)&^c | (s-lo)&^s) & hi
}

// skipString validates the string whose opening quote is b[i] and returns
// the index just past its closing quote. Plain runs are checked eight bytes
// at a time, and a closing quote found so needs no second look at the byte.
func skipString(b []byte, i int) (int, bool) {
	i++
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := stringStops(x); m != 0 {
				if low := m & -m; low&quotes(x) != 0 {
					return i + bits.TrailingZeros64(low)>>3 + 1, true
				}
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
