package engine_test

import (
	"bytes"
	"encoding/json"
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
			encode := func() ([]byte, int) {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				e := engine.New(c.rules(t), engine.Options{})
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
		})
	}
}

func around(b []byte, i int) string {
	return string(b[max(0, i-200):min(len(b), i+200)])
}
