package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	deep := strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1)
	tooDeep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	tests := []struct {
		name   string
		body   string
		n      int
		reason string
	}{
		{"v1 object", `{"event":"open"}`, 1, ""},
		{"empty object", `{}`, 1, ""},
		{"v2 two events", `[{"event":"open"},{"event":"sent"}]`, 2, ""},
		{"empty array", `[]`, 0, ""},
		{"empty array with spaces", " [ ] ", 0, ""},
		{"whitespace around", " \t\r\n{\"a\":1}\n\r\t ", 1, ""},
		{"whitespace inside", "[ {\n\"a\" :\t1 } ,\r{ } ]", 2, ""},
		{"nested values", `{"geo":{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]},"b":[]}`, 1, ""},
		{"all escapes", `{"s":"\"\\\/\b\f\n\r\t\u0041\uD83D\uDE00"}`, 1, ""},
		{"invalid UTF-8 accepted like json.Valid", "{\"s\":\"\xff\xfe\"}", 1, ""},
		{"deepest nesting json.Valid takes", `{"a":` + deep + `}`, 1, ""},

		{"empty body", ``, 0, "not_json"},
		{"only spaces", "  \n", 0, "not_json"},
		{"open brace", `{`, 0, "not_json"},
		{"word", `abc`, 0, "not_json"},
		{"trailing garbage", `{"a":1}x`, 0, "not_json"},
		{"two objects", `{}{}`, 0, "not_json"},
		{"trailing comma in array", `[{},]`, 0, "not_json"},
		{"trailing comma in object", `{"a":1,}`, 0, "not_json"},
		{"unquoted key", `{a:1}`, 0, "not_json"},
		{"missing colon", `{"a" 1}`, 0, "not_json"},
		{"leading zero", `{"a":01}`, 0, "not_json"},
		{"bare minus", `{"a":-}`, 0, "not_json"},
		{"dot without digits", `{"a":1.}`, 0, "not_json"},
		{"exponent without digits", `{"a":1e+}`, 0, "not_json"},
		{"plus sign", `{"a":+1}`, 0, "not_json"},
		{"bad literal", `{"a":tru}`, 0, "not_json"},
		{"control char in string", "{\"a\":\"x\ny\"}", 0, "not_json"},
		{"bad escape", `{"a":"\x"}`, 0, "not_json"},
		{"short unicode escape", `{"a":"\u12"}`, 0, "not_json"},
		{"unterminated string", `{"a":"abc`, 0, "not_json"},
		{"mismatched brackets", `{"a":[1}`, 0, "not_json"},
		{"byte order mark", "\xef\xbb\xbf{}", 0, "not_json"},
		{"too deep", `{"a":` + tooDeep + `}`, 0, "not_json"},
		{"scalar then junk", `42 x`, 0, "not_json"},
		{"array of scalar, unterminated", `[1`, 0, "not_json"},

		{"number", `42`, 0, "not_object"},
		{"string", `"x"`, 0, "not_object"},
		{"null", `null`, 0, "not_object"},
		{"true", ` true `, 0, "not_object"},
		{"array holding a scalar", `[{}, 1]`, 0, "not_object"},
		{"array holding a string", `["x"]`, 0, "not_object"},
		{"nested arrays", `[[{}]]`, 0, "not_object"},
		{"array holding null", `[{},null,{}]`, 0, "not_object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Check([]byte(tt.body))
			if got := Reason(err); got != tt.reason || n != tt.n {
				t.Fatalf("Check = %d, %v (reason %q); want %d, reason %q", n, err, got, tt.n, tt.reason)
			}
			if valid := json.Valid([]byte(tt.body)); valid != (tt.reason != "not_json") {
				t.Errorf("json.Valid = %v, disagrees with reason %q", valid, tt.reason)
			}
		})
	}
}

func TestCheckErrorMessages(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"a":1}x`, `webhook body is not JSON: unexpected 'x' at byte 7`},
		{`{"a":`, `webhook body is not JSON: unexpected end at byte 5`},
		{`42`, `webhook body is not an object or an array of objects: top level is a number`},
		{`[{}, {}, "x"]`, `webhook body is not an object or an array of objects: element 2 is a string`},
	}
	for _, tt := range tests {
		_, err := Check([]byte(tt.body))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Check(%s) error = %v, want %s", tt.body, err, tt.want)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrNotJSON, "not_json"},
		{ErrNotObject, "not_object"},
		{errors.New("other"), "other"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	body := benchBody(t, 100)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Check(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Check allocates %v times per body, want 0", allocs)
	}
}

// TestSwarScans checks the eight-bytes-at-a-time scans against a byte loop
// for every byte value at every position of a run longer than a word, so
// that a carry or borrow between bytes cannot hide a stop.
func TestSwarScans(t *testing.T) {
	for pos := 0; pos < 12; pos++ {
		for c := 0; c < 256; c++ {
			digits := []byte(strings.Repeat("7", 12))
			digits[pos] = byte(c)
			want := 0
			for want < len(digits) && '0' <= digits[want] && digits[want] <= '9' {
				want++
			}
			if got := skipDigits(digits, 0); got != want {
				t.Errorf("skipDigits(%q) = %d, want %d", digits, got, want)
			}
			str := []byte(`"` + strings.Repeat("a", 12) + `"`)
			str[1+pos] = byte(c)
			wantEnd, wantOK := len(str), true
			switch {
			case c == '"':
				wantEnd = 1 + pos + 1
			case c == '\\' && pos < 11: // \a is no escape
				wantEnd, wantOK = 1+pos+1, false
			case c == '\\': // \" escapes the closing quote
				wantOK = false
			case c < 0x20:
				wantEnd, wantOK = 1+pos, false
			}
			if end, ok := skipString(str, 0); end != wantEnd || ok != wantOK {
				t.Errorf("skipString(%q) = %d, %v; want %d, %v", str, end, ok, wantEnd, wantOK)
			}
		}
	}
}
