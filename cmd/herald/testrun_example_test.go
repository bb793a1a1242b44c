package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestExampleRulesTests runs `herald test rules.example.test.yaml`: the
// example rules must pass their tests, so neither file can rot.
func TestExampleRulesTests(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := runArgs(context.Background(), []string{"test", "../../rules.example.test.yaml"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("herald test rules.example.test.yaml: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("warnings:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "PASS  ") {
		t.Errorf("no PASS line:\n%s", stdout.String())
	}
}

// TestExampleRulesAllTested checks that every rule of rules.example.yaml is
// named by an expectation of rules.example.test.yaml.
func TestExampleRulesAllTested(t *testing.T) {
	t.Parallel()
	tf, _, err := parseTestFile("../../rules.example.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, tc := range tf.tests {
		for _, x := range tc.expect {
			tested[x.rule] = true
		}
	}
	for _, r := range tf.rules.Rules {
		if !tested[r.Name] {
			t.Errorf("rule %s of %s: no test expects it to fire", r.Name, tf.rules.File)
		}
	}
}
