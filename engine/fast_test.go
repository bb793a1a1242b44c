package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"gopkg.in/yaml.v3"
)

// The fast path gives the VM's results: each expression runs both ways
// over a set of events, including missing fields and odd values.
func TestFastMatchesVM(t *testing.T) {
	exprs := map[scope][]string{
		scopeEvent: {
			`CustomID startsWith "promo-"`, `CustomID endsWith "-1"`, `email contains "@x"`, `hard_bounce`, `!hard_bounce`,
			`not blocked`, `event == "open"`, `event != "open"`, `event in ["open", "click"]`, `domain in ["x.com"]`,
			`MessageID > 5`, `MessageID >= 576460765503091475`, `MessageID == 576460765503091476`, `mj_list_id < 3`,
			`time <= 1700000000`, `mj_campaign_id == 7.0`, `mj_campaign_id != 7`, `-mj_list_id < 0`,
			`event == "sent" && CustomID != "" || hard_bounce`, `(event == "open" or event == "click") and not (email == "")`,
			`email`, `MessageID`, `domain`, `CustomID < "promo-2"`, `error_related_to == vars.rel`, `time > vars.n`,
			`vars.flag && event == "bounce"`, `geo in vars.countries`, `ip == nil`, `true`, `false`, `"x"`, `42`, `1.5`,
			`urlquery(email)`, `urlquery("a b&c/é")`, `urlquery(vars.rel)`, `percent(mj_list_id / 3)`, `percent(time)`, `percent(0.6345)`,
		},
		scopeSequence: {`urlquery(prev.email)`, `percent(prev.mj_list_id)`, `prev.CustomID == CustomID`, `prev.CustomID startsWith "promo-"`, `prev.email != "a@x.com" || prev.event == "sent"`, `time - prev.time < 3600`, `prev.MessageID == MessageID && prev.event == "sent"`},
		scopeEvery:    {`count % 2 == 0`, `group == "x.com"`, `count > 3 && group != ""`},
	}
	events := []Event{
		{},
		{Type: "sent", MessageID: 576460765503091475, Email: "a@x.com", Domain: "x.com", CustomID: "promo-1", Time: 1700000000, CampaignID: 7},
		{Type: "open", MessageID: 576460765503091476, Email: "b@y.com", Domain: "y.com", CustomID: "promo-2", Time: 1700003600, Geo: "FR", ListID: 2},
		{Type: "bounce", MessageID: 5, Email: "", HardBounce: true, ErrorRelatedTo: "recipient", Time: 1},
		{Type: "blocked", MessageID: 6, Email: "c@x.com", Domain: "x.com", Blocked: true, CustomID: "abc-1", ListID: 4},
	}
	vars := map[string]any{"rel": "recipient", "n": 1000, "flag": true, "countries": []any{"FR", "DE"}}
	errs := &errs{file: "t"}
	c := &exprCompiler{errs: errs, vars: vars, rule: "t"}
	node := &yaml.Node{Kind: yaml.ScalarNode}
	fastCount := 0
	for sc, list := range exprs {
		for _, src := range list {
			p, err := c.compileRaw(node, "k", src, 0, sc, false)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if p.fast == nil {
				if p.pred != nil {
					t.Errorf("%s: a predicate without a fast path", src)
				}
				continue
			}
			fastCount++
			for i := range events {
				for j := range events {
					ev, prev := events[i], events[j]
					en := &env{Event: &ev, Prev: &prev, Group: ev.Domain, Count: int64(i + j), Now: time.Unix(0, 0)}
					if j == 0 {
						en.Prev = nil // a sequence's condition without its predecessor
					}
					want, err := expr.Run(p.prog, en)
					got := p.fast(en)
					if err != nil {
						continue // the VM fails (e.g. nil compared); the engine runs the VM then
					}
					// nil from the whole expression sends it to the VM.
					if got.k != fNil && fmt.Sprint(got.any()) != fmt.Sprint(want) {
						t.Errorf("%s on event %d (prev %d): fast %v (%T), VM %v (%T)", src, i, j, got.any(), got.any(), want, want)
					}
					// The predicate tells when the fast path gives a bool, and
					// then gives the VM's.
					if p.pred == nil {
						continue // a helper call: not a bool
					}
					v, ok := p.pred(en)
					if ok != (got.k == fBool) || ok && v != want {
						t.Errorf("%s on event %d (prev %d): predicate %v, %v; VM %v", src, i, j, v, ok, want)
					}
				}
			}
		}
	}
	if fastCount < 30 {
		t.Errorf("only %d expressions took the fast path", fastCount)
	}
}

// Window conditions read aggregate slots: the predicate and the VM agree
// for every comparison, with integer and float constants, and on a ratio
// that is not a number.
func TestPredMatchesVMOnAggregates(t *testing.T) {
	var aggs []*aggregate
	c := &exprCompiler{errs: &errs{file: "t"}, vars: map[string]any{"min": 3, "share": 0.5}, rule: "t", aggs: &aggs}
	node := &yaml.Node{Kind: yaml.ScalarNode}
	var progs []*program
	for _, op := range []string{"==", "!=", "<", "<=", ">", ">="} {
		for _, src := range []string{
			"count() " + op + " 3", "count() " + op + " 2.5", "count() " + op + " vars.min",
			`ratio(event == "open") ` + op + " 0.5", `ratio(event == "open") ` + op + " vars.share",
			"sum(time) " + op + " 10", `distinct(email) ` + op + " 2",
		} {
			p, err := c.compileRaw(node, "k", src, 0, scopeWindow, true)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if p.pred == nil {
				t.Errorf("%s: no predicate", src)
				continue
			}
			progs = append(progs, p)
		}
	}
	nan := 0.0
	nan /= nan
	for _, ai := range [][]int64{{0, 0}, {2, 1}, {3, 2}, {4, 3}} {
		for _, af := range [][]float64{{0.5, 10}, {0.25, 9.5}, {0.75, 10.5}, {nan, nan}} {
			en := &env{Now: time.Unix(0, 0), AggI: append(ai, 0, 0, 0, 0), AggF: append(af, 0, 0, 0, 0)}
			for _, p := range progs {
				want, err := expr.Run(p.prog, en)
				if err != nil {
					t.Fatalf("%s: %v", p.src, err)
				}
				if v, ok := p.pred(en); !ok || v != want {
					t.Errorf("%s with %v %v: predicate %v, %v; VM %v", p.src, ai, af, v, ok, want)
				}
			}
		}
	}
}
