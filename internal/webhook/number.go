package webhook

// maxExp bounds the exponents exactInt reads. Any number with a larger
// exponent is far out of int64's range or not an integer either way, so the
// bound never changes a result; it keeps the arithmetic from overflowing.
const maxExp = 1 << 30

// exactInt returns the integer that the decimal text s denotes, and true,
// when that value is an integer within int64's range: "42", "-7", "007",
// "+5", "1433333949.0", "1.4e9", "2E3". It works on the digits and never
// through float64, so ids above 2^53 stay exact. For anything else (a
// fraction such as "1.5", a value out of range, text that is not a number)
// it returns 0 and false.
func exactInt(s string) (int64, bool) {
	if v, ok := smallInt(s); ok {
		return v, true
	}
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	i = digitsEnd(s, i)
	intPart, fracPart := s[start:i], ""
	if i < len(s) && s[i] == '.' {
		j := digitsEnd(s, i+1)
		fracPart, i = s[i+1:j], j
	}
	if intPart == "" && fracPart == "" {
		return 0, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		var ok bool
		if exp, i, ok = parseExp(s, i+1); !ok {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	return digitsToInt(decimal{intPart, fracPart}, len(intPart)+exp, neg)
}

// smallInt is exactInt's fast path for the common case: up to 18 digits
// and nothing else, which always fit an int64.
func smallInt(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// decimal is the digit sequence of a number, split at its decimal point.
type decimal struct{ intPart, fracPart string }

func (d decimal) len() int { return len(d.intPart) + len(d.fracPart) }

// digit returns the k-th digit's value; positions past the end are 0.
func (d decimal) digit(k int) uint64 {
	switch {
	case k < len(d.intPart):
		return uint64(d.intPart[k] - '0')
	case k < d.len():
		return uint64(d.fracPart[k-len(d.intPart)] - '0')
	}
	return 0
}

// digitsToInt converts the digits of d, with point digits before the decimal
// point (after the exponent is applied), into an int64 when that is exact.
func digitsToInt(d decimal, point int, neg bool) (int64, bool) {
	first, last := -1, -1
	for k := 0; k < d.len(); k++ {
		if d.digit(k) != 0 {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	switch {
	case first < 0:
		return 0, true // all zeros
	case last >= point:
		return 0, false // a non-zero digit after the point: not an integer
	case point-first > 19:
		return 0, false // more digits than any int64 has
	}
	var u uint64 // at most 19 digits: cannot overflow uint64
	for k := first; k < point; k++ {
		u = u*10 + d.digit(k)
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true // -u wraps to MinInt64 for 1<<63
	case !neg && u <= 1<<63-1:
		return int64(u), true
	}
	return 0, false
}

// parseExp reads an exponent's optional sign and digits from s[i:],
// clamping its magnitude at maxExp.
func parseExp(s string, i int) (exp, end int, ok bool) {
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if exp < maxExp {
			exp = exp*10 + int(s[i]-'0')
		}
	}
	if i == start {
		return 0, i, false
	}
	exp = min(exp, maxExp)
	if neg {
		exp = -exp
	}
	return exp, i, true
}

func digitsEnd(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// nonZero reports whether the valid JSON number text s is not zero.
func nonZero(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E':
			return false
		case '1' <= c && c <= '9':
			return true
		}
	}
	return false
}
