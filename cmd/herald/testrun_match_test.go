package main

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func yamlValue(t *testing.T, src string) any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return canonicalNode(&n)
}

// TestSubset pins how expected action fields match rendered ones.
func TestSubset(t *testing.T) {
	got := canonical([]map[string]any{
		{"mailjet": map[string]any{"to": "a@x.com", "template_id": int64(4242),
			"variables": map[string]any{"code": "OPEN24", "n": 1.5}, "cc": []any{"b@x.com", "c@x.com"}}},
	})
	for _, tc := range []struct {
		want  string
		diffs string // joined by "; ", empty: matches
	}{
		{`[{mailjet: {to: a@x.com}}]`, ""},
		{`[{mailjet: {}}]`, ""},
		{`[{}]`, ""},
		{`[{mailjet: {template_id: 4242, variables: {n: 1.5}}}]`, ""},
		{`[{mailjet: {template_id: 4242.0}}]`, ""},
		{`[{mailjet: {cc: [b@x.com, c@x.com]}}]`, ""},
		{`[{mailjet: {to: b@x.com}}]`, "actions[0].mailjet.to is a@x.com, want b@x.com"},
		{`[{mailjet: {template_id: "4242"}}]`, `actions[0].mailjet.template_id is 4242, want "4242" (the rule renders the number 4242, not text: write it without quotes)`},
		{`[{mailjet: {variables: {code: X, other: 1}}}]`, "actions[0].mailjet.variables.code is OPEN24, want X; actions[0].mailjet.variables.other: missing, want 1"},
		{`[{mailjet: {absent: null}}]`, ""},
		{`[{mailjet: {cc: [b@x.com]}}]`, "actions[0].mailjet.cc has 2 item(s), want 1 (use {} to skip one)"},
		{`[{mailjet: {to: [a@x.com]}}]`, "actions[0].mailjet.to is a@x.com, want a list [a@x.com]"},
		{`[{slack: {text: hi}}]`, "actions[0].slack: missing, want {text: hi}"},
		{`[{mailjet: {}}, {slack: {}}]`, "actions has 1 item(s), want 2 (use {} to skip one)"},
	} {
		d := strings.Join(subset("actions", yamlValue(t, tc.want), got), "; ")
		if d != tc.diffs {
			t.Errorf("%s:\n got %s\nwant %s", tc.want, d, tc.diffs)
		}
	}
}

// TestYAMLString checks that reports print strings a test can paste back.
func TestYAMLString(t *testing.T) {
	for _, s := range []string{"a@x.com", "10", "true", "null", "", " x", "x: y", "{a}", "- x", "#x", "x #y",
		"60% of mail", "/contacts/a%40x.com/unsubscribe", "it's", "a\nb", "~", "2024-03-01T09:00:00Z", "1e3", "0x10"} {
		out := yamlString(s)
		var back []any
		if err := yaml.Unmarshal([]byte("["+out+"]"), &back); err != nil || len(back) != 1 || back[0] != s {
			t.Errorf("yamlString(%q) = %s, reads back as %#v (%v)", s, out, back, err)
		}
	}
	if got := yamlString("a@x.com"); got != "a@x.com" {
		t.Errorf("plain address quoted: %s", got)
	}
}

func TestOffset(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 90 * time.Second: "1m30s", 2 * time.Hour: "2h", 24 * time.Hour: "24h",
		26*time.Hour + 5*time.Second: "26h5s", time.Hour + 30*time.Minute: "1h30m", 500 * time.Millisecond: "500ms",
	} {
		if got := offset(d); got != want {
			t.Errorf("offset(%v) = %s, want %s", d, got, want)
		}
	}
}
