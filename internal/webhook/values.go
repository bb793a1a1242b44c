package webhook

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder reads JSON that Check has already validated, so it does not
// re-check syntax. b and s hold the same text: b for scanning, s so that
// decoded strings without escapes are substrings and cost no allocation.
type decoder struct {
	b []byte
	s string
	i int
}

func (d *decoder) space() { d.i = skipSpace(d.b, d.i) }

// key decodes the object key at d.i and moves to the start of its value.
func (d *decoder) key() string {
	k := d.str()
	d.space()
	d.i++ // ':'
	d.space()
	return k
}

// str decodes the string at d.i, replacing invalid UTF-8 and lone
// surrogates with U+FFFD as encoding/json does. Strings without escapes
// (nearly all) are found in one pass, eight bytes at a time, and returned
// as substrings of d.s; that pass also notes non-ASCII bytes, so only
// strings holding some need a UTF-8 check.
func (d *decoder) str() string {
	b, start := d.b, d.i+1
	i, high := stringEnd(b, start)
	if b[i] == '\\' {
		d.i, _ = skipString(b, d.i)
		return unescape(b[start : d.i-1])
	}
	d.i = i + 1
	if high&hi != 0 && !utf8.Valid(b[start:i]) {
		return unescape(b[start:i])
	}
	return d.s[start:i]
}

// stringEnd returns the index of the first '"' or '\\' at or after i in
// the valid JSON b, and the bytes before it ORed together (in some order),
// whose top bit tells whether any is not ASCII.
func stringEnd(b []byte, i int) (int, uint64) {
	var high uint64
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := quoteStops(x); m != 0 {
			// (m & -m) - 1 keeps the bytes below the first stop (and the
			// stop's low seven bits, which high does not look at).
			return i + bits.TrailingZeros64(m)>>3, high | x&(m&-m-1)
		}
		high |= x
		i += 8
	}
	for b[i] != '"' && b[i] != '\\' {
		high |= uint64(b[i])
		i++
	}
	return i, high
}

// quoteStops is stringStops without the control characters, which valid
// JSON strings do not hold.
func quoteStops(x uint64) uint64 {
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((q - lo) &^ q & hi) | ((s - lo) &^ s & hi)
}

// number moves past the number at d.i and returns its text.
func (d *decoder) number() string {
	start := d.i
	d.i, _ = skipNumber(d.b, d.i)
	return d.s[start:d.i]
}

// stringValue decodes a string field: a string as itself, null as "", a
// number or boolean as its JSON text, an object or array as its raw JSON text.
func (d *decoder) stringValue() string {
	switch d.b[d.i] {
	case '"':
		return d.str()
	case 'n':
		d.i += len("null")
		return ""
	case 't':
		d.i += len("true")
		return "true"
	case 'f':
		d.i += len("false")
		return "false"
	}
	start := d.i
	d.i = skipValid(d.b, d.i)
	return validUTF8(d.s[start:d.i])
}

// intValue decodes an integer field: a number or a numeric string when it
// denotes an integer in int64's range exactly, else 0 (see exactInt).
func (d *decoder) intValue() int64 {
	var v int64
	switch c := d.b[d.i]; {
	case c == '"':
		v, _ = exactInt(strings.TrimSpace(d.str()))
	case '0' <= c && c <= '9':
		// Ids and times: digits and nothing else, read without a second
		// pass over the text.
		start := d.i
		if end := skipDigits(d.b, start); end-start <= 18 && !fractionOrExp(d.b, end) {
			d.i = end
			return digitsValue(d.b[start:end])
		}
		v, _ = exactInt(d.number())
	case c == '-':
		v, _ = exactInt(d.number())
	default:
		d.i = skipValid(d.b, d.i)
	}
	return v
}

// fractionOrExp reports whether a number's fraction or exponent starts at
// b[i].
func fractionOrExp(b []byte, i int) bool {
	return i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')
}

// digitsValue returns the value of the ASCII digits b, at most 18 of them,
// eight at a time.
func digitsValue(b []byte) int64 {
	var v uint64
	for len(b) >= 8 {
		v = v*1e8 + eightDigits(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	for _, c := range b {
		v = v*10 + uint64(c-'0')
	}
	return int64(v)
}

// eightDigits returns the value of the eight ASCII digits in x, the first
// in the lowest byte: pairs of digits, then pairs of pairs, then the halves.
func eightDigits(x uint64) uint64 {
	x -= lo * '0'
	x = (x*10 + x>>8) & 0x00FF00FF00FF00FF
	x = (x*100 + x>>16) & 0x0000FFFF0000FFFF
	return (x*10000 + x>>32) & 0xFFFFFFFF
}

// boolValue decodes a boolean field: true/false, a non-zero or zero number,
// a string that strconv.ParseBool accepts ("true", "1", "F", ...); anything
// else (null, "", other strings, objects, arrays) is false.
func (d *decoder) boolValue() bool {
	switch c := d.b[d.i]; {
	case c == 't':
		d.i += len("true")
		return true
	case c == '"':
		v, err := strconv.ParseBool(strings.TrimSpace(d.str()))
		return err == nil && v
	case c == '-' || '0' <= c && c <= '9':
		return nonZero(d.number())
	}
	d.i = skipValid(d.b, d.i)
	return false
}

// anyValue decodes any value as encoding/json does into an interface with
// UseNumber: string, json.Number, bool, nil, map[string]any or []any.
func (d *decoder) anyValue() any {
	switch d.b[d.i] {
	case '"':
		return d.str()
	case 't':
		d.i += len("true")
		return true
	case 'f':
		d.i += len("false")
		return false
	case 'n':
		d.i += len("null")
		return nil
	case '{':
		return d.object()
	case '[':
		return d.array()
	}
	return json.Number(d.number())
}

// object decodes the object at d.i; a repeated key keeps its last value.
func (d *decoder) object() map[string]any {
	m := make(map[string]any)
	d.i++
	if d.space(); d.b[d.i] == '}' {
		d.i++
		return m
	}
	for {
		k := d.key()
		m[k] = d.anyValue()
		d.space()
		c := d.b[d.i]
		d.i++
		if c == '}' {
			return m
		}
		d.space()
	}
}

// array decodes the array at d.i; an empty array is a non-nil empty slice.
func (d *decoder) array() []any {
	a := []any{}
	d.i++
	if d.space(); d.b[d.i] == ']' {
		d.i++
		return a
	}
	for {
		a = append(a, d.anyValue())
		d.space()
		c := d.b[d.i]
		d.i++
		if c == ']' {
			return a
		}
		d.space()
	}
}

// skipValid returns the index just past the valid JSON value at b[i].
func skipValid(b []byte, i int) int {
	switch b[i] {
	case '"':
		i, _ = skipString(b, i)
		return i
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i, _ = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	i, _ = skipNumber(b, i)
	return i
}

// unescape decodes the content of a JSON string that has escapes or
// invalid UTF-8, following encoding/json: each invalid byte and each lone
// surrogate becomes U+FFFD.
func unescape(raw []byte) string {
	var sb strings.Builder
	sb.Grow(len(raw))
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '\\':
			i = unescapeOne(&sb, raw, i+1)
		case c < utf8.RuneSelf:
			sb.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.Write(raw[i : i+size])
			}
			i += size
		}
	}
	return sb.String()
}

// unescapeOne writes the escape whose letter is raw[i] and returns the
// index after it.
func unescapeOne(sb *strings.Builder, raw []byte, i int) int {
	switch c := raw[i]; c {
	case 'b':
		sb.WriteByte('\b')
	case 'f':
		sb.WriteByte('\f')
	case 'n':
		sb.WriteByte('\n')
	case 'r':
		sb.WriteByte('\r')
	case 't':
		sb.WriteByte('\t')
	case 'u':
		r := hex4(raw[i+1:])
		i += 5
		if utf16.IsSurrogate(r) {
			if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if pair := utf16.DecodeRune(r, hex4(raw[i+2:])); pair != unicode.ReplacementChar {
					sb.WriteRune(pair)
					return i + 6
				}
			}
			r = unicode.ReplacementChar
		}
		sb.WriteRune(r)
		return i
	default: // '"', '\\', '/'
		sb.WriteByte(c)
	}
	return i + 1
}

// hex4 returns the value of the four hex digits that start b, or -1 when
// they are not hex digits.
func hex4(b []byte) rune {
	var r rune
	for k := 0; k < 4; k++ {
		if k >= len(b) || unhex(b[k]) < 0 {
			return -1
		}
		r = r<<4 | unhex(b[k])
	}
	return r
}

// validUTF8 returns s with each byte that is not valid UTF-8 replaced by
// U+FFFD, as encoding/json does for strings.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for _, r := range s {
		sb.WriteRune(r) // ranging yields U+FFFD for each invalid byte
	}
	return sb.String()
}
