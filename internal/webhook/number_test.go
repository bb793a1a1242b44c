package webhook

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestExactInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"-7", -7, true},
		{"+5", 5, true},
		{"007", 7, true},
		{"576460765503091475", 576460765503091475, true},
		{"576460765503091476", 576460765503091476, true},
		{"9007199254740993", 9007199254740993, true}, // 2^53+1: float64 would give 2^53
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"00000000000000000000000000042", 42, true},
		{"1433333949.0", 1433333949, true},
		{"1433333949.000000000000000000000", 1433333949, true},
		{"1.4e9", 1400000000, true},
		{"1.4E+9", 1400000000, true},
		{"14000e-1", 1400, true},
		{"5.", 5, true},
		{"5.76460765503091475e17", 576460765503091475, true},
		{"9.223372036854775807e18", 9223372036854775807, true},
		{"9.223372036854775808e18", 0, false},
		{"0e999999999999999999999", 0, true},
		{"-0.0", 0, true},
		{"1e-999999999999999999", 0, false},
		{"1e999999999999999999", 0, false},
		{"1.5", 0, false},
		{"0.5", 0, false},
		{".5", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{".", 0, false},
		{"1e", 0, false},
		{"1e+", 0, false},
		{"0x10", 0, false},
		{"12a", 0, false},
		{"1 2", 0, false},
		{"--1", 0, false},
	}
	for _, tt := range tests {
		got, ok := exactInt(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("exactInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// numberText is the grammar exactInt accepts: a sign, digits, a point,
// digits (at least one digit in all), an exponent.
var numberText = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// FuzzExactInt compares exactInt with math/big's exact arithmetic.
func FuzzExactInt(f *testing.F) {
	for _, s := range []string{"0", "-7", "1.4e9", "576460765503091475", "9.223372036854775808e18", "1.5", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := exactInt(s)
		want, wantOK := bigExactInt(s)
		if got != want || ok != wantOK {
			t.Fatalf("exactInt(%q) = %d, %v; math/big says %d, %v", s, got, ok, want, wantOK)
		}
	})
}

// bigExactInt is exactInt computed with big.Rat. It gives up (returns what
// exactInt returns) for exponents too large for big.Rat to expand quickly.
func bigExactInt(s string) (int64, bool) {
	m := numberText.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	if len(m[2]) > 5 {
		return exactInt(s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, false
	}
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

// TestDigitsValue checks the eight-at-a-time conversion against strconv for
// every length up to 18 digits and every digit at every position.
func TestDigitsValue(t *testing.T) {
	for n := 1; n <= 18; n++ {
		for pos := 0; pos < n; pos++ {
			for c := byte('0'); c <= '9'; c++ {
				digits := []byte(strings.Repeat("9876543210", 2)[:n])
				digits[pos] = c
				want, err := strconv.ParseInt(string(digits), 10, 64)
				if got := digitsValue(digits); err != nil || got != want {
					t.Fatalf("digitsValue(%s) = %d, want %d (%v)", digits, got, want, err)
				}
			}
		}
	}
}
