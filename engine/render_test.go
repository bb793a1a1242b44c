package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// marshal is encoding/json's output without HTML escaping, which the
// params' JSON must equal.
func marshal(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestAppendJSONAsEncodingJSON(t *testing.T) {
	values := []any{
		nil, true, false, "", "plain", `quote " and \ backslash`, "<!channel> & co",
		"tab\tnew\nline\rcr\bbs\fff\x00nul\x1fus\x7fdel", "é ü 日本 🎉", "bad \xff utf-8 \xe2\x82", "line\u2028para\u2029",
		0, 42, -7, int64(math.MaxInt64), int64(math.MinInt64),
		0.0, 1.5, -0.25, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.SmallestNonzeroFloat64, math.MaxFloat64,
		map[string]any{"b": 1, "a": []any{"x", 2.5, nil}}, []any{}, map[string]any{},
	}
	for _, v := range values {
		got, err := appendValue(nil, v, nil)
		if err != nil {
			t.Errorf("%#v: %v", v, err)
			continue
		}
		if want := marshal(t, v); string(got) != want {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
		if s, ok := v.(string); ok {
			if got := appendString(nil, []byte(s)); string(got) != marshal(t, s) {
				t.Errorf("%q as bytes: got %s", s, got)
			}
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendValue(nil, f, nil); err == nil {
			t.Errorf("%v: no error", f)
		}
	}
}

// Every byte value, alone and after text, escapes as encoding/json does.
func TestAppendStringEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, s := range []string{string([]byte{byte(c)}), "ab" + string([]byte{byte(c)}) + "cd"} {
			if got, want := string(appendString(nil, s)), marshal(t, s); got != want {
				t.Errorf("%q: got %s, want %s", s, got, want)
			}
		}
	}
}

// A whole template keeps its value's type; times and durations read as
// text; Slack's escaping reaches strings inside maps and lists.
func TestTemplateJSON(t *testing.T) {
	when := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v      any
		escape func(string) string
		want   string
	}{
		{when, nil, `"2025-03-01T09:00:00Z"`},
		{90 * time.Minute, nil, `"1h30m0s"`},
		{map[string]any{"k": "<a>", "l": []any{"&"}}, slackEscape, `{"k":"&lt;a&gt;","l":["&amp;"]}`},
		{[]string{"<b>"}, slackEscape, `["&lt;b&gt;"]`},
	} {
		got, err := appendValue(nil, jsonValue(c.v), c.escape)
		if err != nil || string(got) != c.want {
			t.Errorf("%#v: got %s, %v; want %s", c.v, got, err, c.want)
		}
	}
}
