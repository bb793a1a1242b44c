package engine_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/heraldmail/herald/engine"
)

// TestDeterminism runs the same generated traffic through two engines (and
// two parses of the rules) and requires byte-identical JSON firings: map
// iteration order, pointers or wall-clock time must not leak into them.
func TestDeterminism(t *testing.T) {
	for _, c := range []struct {
		name   string
		rules  func(t testing.TB) *engine.RuleSet
		events int
	}{
		{"rules.example.yaml", loadExample, 30_000},
		{"100 mixed rules", func(t testing.TB) *engine.RuleSet { return parse(t, mixedRules(100)) }, 5_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := defaultTraffic
			o.events = c.events
			steps := traffic(o)
			var snaps [][]byte
			encode := func() ([]byte, int) {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				e := engine.New(c.rules(t), engine.Options{})
				defer func() { snaps = append(snaps, e.Snapshot()) }()
				n := 0
				for i, s := range steps {
					for _, f := range feed(e, s, uint64(i+1)) {
						if err := enc.Encode(f); err != nil {
							t.Fatal(err)
						}
						n++
					}
				}
				return buf.Bytes(), n
			}
			a, n := encode()
			b, _ := encode()
			if n < 100 {
				t.Errorf("only %d firings: the traffic does not exercise the rules", n)
			}
			if !bytes.Equal(a, b) {
				i := 0
				for i < len(a) && i < len(b) && a[i] == b[i] {
					i++
				}
				t.Fatalf("two runs differ at byte %d:\n%s\n%s", i, around(a, i), around(b, i))
			}
			if !bytes.Equal(snaps[0], snaps[1]) {
				t.Errorf("the two engines' snapshots differ (%d and %d bytes)", len(snaps[0]), len(snaps[1]))
			}
		})
	}
}

func around(b []byte, i int) string {
	return string(b[max(0, i-200):min(len(b), i+200)])
}

// TestSnapshotMidTraffic cuts realistic traffic at several points, restores
// a snapshot into a new engine and goes on: the firings after the cut and
// the final stats must be those of an engine that never stopped (DESIGN §1:
// recovery is snapshot + replay).
func TestSnapshotMidTraffic(t *testing.T) {
	o := defaultTraffic
	o.events = 3_000
	steps := traffic(o)
	for _, c := range []struct {
		name  string
		rules func(t testing.TB) *engine.RuleSet
		bug   string
	}{
		{"rules.example.yaml", loadExample, "Restore fails on a snapshot of rules.example.yaml: rule no-open-reminder: truncated at count (see TestSnapshotLimitWithoutFirings)"},
		{"100 mixed rules", func(t testing.TB) *engine.RuleSet { return parse(t, mixedRules(100)) }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.bug != "" {
				knownBug(t, c.bug)
			}
			rs := c.rules(t)
			// runCut returns each firing as JSON with the index of its
			// step, and the final stats, restoring at step cut.
			runCut := func(cut int) ([]string, string) {
				e := engine.New(rs, engine.Options{})
				var fs []string
				for i, s := range steps {
					if i == cut {
						again := engine.New(rs, engine.Options{})
						if err := again.Restore(e.Snapshot()); err != nil {
							t.Fatal(err)
						}
						e = again
					}
					for _, f := range feed(e, s, uint64(i+1)) {
						fs = append(fs, fmt.Sprintf("%06d %s", i, mustJSON(t, f)))
					}
				}
				return fs, statsJSON(t, e.Stats())
			}
			whole, wholeStats := runCut(-1)
			for _, cut := range []int{1, len(steps) / 3, len(steps) * 2 / 3, len(steps) - 1} {
				got, stats := runCut(cut)
				after := func(fs []string) []string {
					i := sort.SearchStrings(fs, fmt.Sprintf("%06d", cut))
					return fs[i:]
				}
				if g, w := strings.Join(after(got), "\n"), strings.Join(after(whole), "\n"); g != w {
					t.Errorf("cut at step %d: firings after the cut differ (%d vs %d firings)", cut, len(after(got)), len(after(whole)))
				}
				if stats != wholeStats {
					t.Errorf("cut at step %d: stats differ:\n got %s\nwant %s", cut, stats, wholeStats)
				}
			}
		})
	}
}

// statsJSON is the stats without the rules whose counters are all zero:
// Restore lists every rule, a running engine only those that counted
// something.
func statsJSON(t testing.TB, st engine.Stats) string {
	for name, r := range st.Rules {
		if r == (engine.RuleStats{}) {
			delete(st.Rules, name)
		}
	}
	return mustJSON(t, st)
}
