package engine_test

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

var update = flag.Bool("update", false, "rewrite engine/testdata/bad/*.err with the current messages")

// badRuleBugs are bad rule files whose .err holds the message the engine
// should give (written by hand); the engine gives another one today.
// -update leaves their .err alone.
var badRuleBugs = map[string]string{}

// TestBadRules loads each testdata/bad/*.yaml and compares the errors with
// the .err file next to it. A first-line comment "# connections: a=type,
// b=type" sets ParseOptions.Connections.
func TestBadRules(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/bad/*.yaml: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			if bug := badRuleBugs[name]; bug != "" {
				if *update {
					t.Skip("the .err is written by hand")
				}
				knownBug(t, bug)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = engine.LoadFile(path, engine.ParseOptions{Connections: connectionsOf(string(data))})
			if err == nil {
				t.Fatal("loaded without error")
			}
			les := engine.AsLoadErrors(err)
			if len(les) == 0 {
				t.Fatalf("error is not LoadErrors: %T %v", err, err)
			}
			for _, le := range les {
				if le.File != path || le.Line < 1 || le.Column < 1 {
					t.Errorf("error without a position: %+v", le)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -run TestBadRules -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors of %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

// connectionsOf reads "# connections: crm=http, slack=slack" from the first
// line of a rules file.
func connectionsOf(src string) map[string]string {
	line, _, _ := strings.Cut(src, "\n")
	list, ok := strings.CutPrefix(line, "# connections:")
	if !ok {
		return nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(list, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		m[k] = v
	}
	return m
}

func TestParseGood(t *testing.T) {
	rs, err := engine.Parse("good.yaml", []byte(`version: 1
vars: {min: 100}
rules:
  - name: spike
    description: blocked spike
    on: [sent, blocked]
    group_by: domain
    window: 15m
    when: count() >= vars.min
    do: [slack: {text: hi}]
  - name: off
    enabled: false
    on: "*"
    do: [http: {path: /x}]
`), engine.ParseOptions{Connections: map[string]string{"slack": "slack"}})
	if err != nil {
		t.Fatal(err)
	}
	if rs.File != "good.yaml" || len(rs.Version) == 0 || rs.Vars["min"] != 100 || len(rs.Rules) != 2 {
		t.Errorf("RuleSet = %+v", rs)
	}
	r := rs.Rule("spike")
	if r == nil || r.Kind != engine.KindWindow || r.Kind.String() != "window" || r.Description != "blocked spike" ||
		!r.Enabled || r.Shadow || strings.Join(r.On, ",") != "sent,blocked" || r.Line != 4 {
		t.Errorf("Rule(spike) = %+v", r)
	}
	if off := rs.Rule("off"); off == nil || off.Enabled || off.Kind != engine.KindPlain {
		t.Errorf("Rule(off) = %+v", off)
	}
	if rs.Rule("nope") != nil {
		t.Error("Rule(nope) != nil")
	}
	// The version identifies the content.
	again, _ := engine.Parse("other.yaml", []byte("version: 1\nrules: []\n"), engine.ParseOptions{})
	if again.Version == rs.Version {
		t.Error("two different files have the same Version")
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"90s", 90 * time.Second, false},
		{"15m", 15 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{" 24h ", 24 * time.Hour, false},
		{"24 hours", 0, true},
		{"d", 0, true},
		{"1h2d", 0, true},
		{"", 0, true},
	} {
		got, err := engine.ParseDuration(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := engine.LoadFile(filepath.Join(t.TempDir(), "nope.yaml"), engine.ParseOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want a not-exist error", err)
	}
}
