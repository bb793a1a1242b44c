package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/heraldmail/herald/engine"
)

// fuzzSteps exercise a rule set that compiled: every event type, an unknown
// one, a "Send test", a duplicate, zero ids, odd payloads and fields, and
// ticks that end timers and windows.
var fuzzSteps = []step{
	ev("0s", "sent", 1, "a@x.com", "CustomID", "promo-1", "Payload", `{"n": 3, "s": "x", "o": {"a": [1, 2]}}`),
	ev("0s", "sent", 2, "<!channel>@y.com", "CustomID", "news", "mj_list_id", "7"),
	ev("1s", "sent", 0, "", "CustomID", "promo-1"),
	ev("2s", "open", 1, "a@x.com", "CustomID", "promo-1", "url", "https://x.com/?a=<b>&c"),
	ev("2s", "open", 1, "a@x.com", "CustomID", "promo-1", "url", "https://x.com/?a=<b>&c", "time", unix("2s")),
	ev("3s", "click", 1, "a@x.com", "url", "https://x.com/pricing"),
	ev("4s", "bounce", 3, "b@x.com", "hard_bounce", "true", "error", "user unknown"),
	ev("5s", "blocked", 4, "c@y.com", "blocked", "true"),
	ev("6s", "spam", 0, "d@z.com", "Message_GUID", "g-1"),
	ev("7s", "unsub", 5, "no-domain", "Payload", "not json"),
	ev("8s", "custom", 6, "é@ü.com", "Payload", `{"n": 1e400}`),
	tick("1h"),
	ev("1h1s", "sent", -1, "a@x.com"),
	tick("25h"),
	tick("49h"),
	ev("24h", "open", 2, "<!channel>@y.com"), // late
	tick("800h"),
}

// FuzzParse: no rules file makes Parse panic; a file that compiles runs
// events, ticks, a reload and a snapshot round trip without panicking;
// errors are always LoadErrors.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 60s ./engine
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.yaml")
	seeds = append(seeds, "../rules.example.yaml")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{plainRules, sequenceRules, absenceRules, spikeRules, mixedRules(10)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := engine.Parse("fuzz.yaml", data, engine.ParseOptions{})
		if err != nil {
			if len(engine.AsLoadErrors(err)) == 0 || err.Error() == "" {
				t.Fatalf("Parse error is not LoadErrors: %T %v", err, err)
			}
			return
		}
		e := engine.New(rs, engine.Options{})
		for i, s := range fuzzSteps {
			wellFormed(t, feed(e, s, uint64(i+1)))
		}
		e.Reload(rs)
		again := engine.New(rs, engine.Options{})
		if err := again.Restore(e.Snapshot()); err != nil {
			t.Fatalf("Restore(Snapshot()): %v", err)
		}
		feed(again, tick("2000h"), 100)
	})
}

// wellFormed fails the test for a firing whose id is not "NAME-" and 16
// hex digits, or whose params are not a JSON object.
func wellFormed(t *testing.T, fs []engine.Firing) {
	t.Helper()
	for _, f := range fs {
		if !idPattern.MatchString(f.ID) {
			t.Fatalf("firing id %q", f.ID)
		}
		for _, a := range f.Actions {
			var m map[string]any
			if err := json.Unmarshal(a.Params, &m); err != nil || m == nil {
				t.Fatalf("%s: params %s are not a JSON object: %v", f.ID, a.Params, err)
			}
		}
	}
}

// FuzzTemplate: a slack text of any content either fails to load with
// LoadErrors or renders without panicking; text without {{ renders as
// itself.
//
//	go test -run '^$' -fuzz FuzzTemplate -fuzztime 60s ./engine
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"hello", "{{ email }}", "{{ percent(0.5) }} of {{ domain }}", `{{ "}}" }}`, "{{", "}}", "{{}}",
		"{{ {} }}", "{{ payload.o.a[1] }}", "{{ payload.missing.deeper }}", "{{ extra }}", "{{ 1/0 }}",
		"{{ int(CustomID) }}", "<!channel> & {{ CustomID }}", "{{ now() }}", "{{ [1,2][5] }}", "{{ prev }}",
		"{{ count() }}", "{{ vars.x }}", "{{ received - now() }}", "{{ {{ }} }}", "{ {x} }", "{{ 'a' + \"b\" }}",
		"{{ email }} {{", "{{ `}}` }}", "{{ lower(upper(email)) | trim() }}", "{{ urlquery(url) }}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		doc, err := yaml.Marshal(map[string]any{"version": 1, "rules": []any{map[string]any{
			"name": "t", "on": "*", "do": []any{map[string]any{"slack": map[string]any{"text": text}}},
		}}})
		if err != nil {
			t.Skip(err)
		}
		rs, err := engine.Parse("fuzz.yaml", doc, engine.ParseOptions{})
		if err != nil {
			if len(engine.AsLoadErrors(err)) == 0 {
				t.Fatalf("Parse error is not LoadErrors: %T %v", err, err)
			}
			return
		}
		e := engine.New(rs, engine.Options{})
		fs := feed(e, fuzzSteps[0], 1)
		fs = append(fs, feed(e, fuzzSteps[1], 2)...)
		wellFormed(t, fs)
		if len(fs) == 0 {
			if e.Stats().Errors == 0 {
				t.Fatal("no firing and no error")
			}
			return
		}
		// yaml.v3 does not round-trip every string ("\n" comes back ""):
		// compare with what YAML gives herald, not with text.
		var back struct {
			Rules []struct {
				Do []struct{ Slack struct{ Text string } }
			}
		}
		if err := yaml.Unmarshal(doc, &back); err != nil || len(back.Rules) != 1 || len(back.Rules[0].Do) != 1 {
			t.Fatalf("YAML round trip: %v", err)
		}
		if lit := back.Rules[0].Do[0].Slack.Text; utf8.ValidString(lit) && !strings.Contains(lit, "{{") {
			if got := param(t, fs[0].Actions[0], "text"); got != lit {
				t.Errorf("literal text %q rendered as %q", lit, got)
			}
		}
	})
}

// FuzzRule builds one rule of a fuzzed kind from fuzzed expressions and
// durations, so the fuzzer explores conditions, keys, aggregates and
// templates rather than YAML syntax. Same checks as FuzzParse.
//
//	go test -run '^$' -fuzz FuzzRule -fuzztime 60s ./engine
func FuzzRule(f *testing.F) {
	f.Add(uint8(0), `CustomID startsWith "promo-"`, "email", "24h", "{{ email }}")
	f.Add(uint8(1), `prev.CustomID == CustomID`, "MessageID", "1h", "{{ prev.time }}")
	f.Add(uint8(2), `event == "sent"`, "payload.n", "1ns", "{{ received }}")
	f.Add(uint8(3), `count() >= 2 && ratio(event == "blocked") > 0.5`, "domain", "15m", "{{ percent(ratio(event == \"blocked\")) }} {{ distinct(email) }}")
	f.Add(uint8(4), `true`, "domain", "3", "{{ count }} {{ group }}")
	f.Add(uint8(3), `sum(payload.n) > 1 || avg(mj_list_id) < 3`, "extra", "1s", "{{ sum(time) }}")
	f.Fuzz(func(t *testing.T, kind uint8, cond, key, period, tmpl string) {
		rule := map[string]any{"name": "r", "on": []string{"sent", "open", "blocked", "*"}[kind/5%4],
			"do": []any{map[string]any{"slack": map[string]any{"text": tmpl}}}}
		switch kind % 5 {
		case 0:
			rule["if"] = cond
			rule["limit"] = map[string]any{"by": key, "max": 2, "per": period}
		case 1:
			rule["if"] = cond
			rule["after"] = map[string]any{"event": "sent", "within": period, "by": key}
		case 2:
			rule["if"] = cond
			rule["unless"] = map[string]any{"event": "open", "within": period, "by": key}
		case 3:
			rule["when"], rule["window"], rule["group_by"], rule["repeat"] = cond, period, key, period
			rule["resolve_when"] = "not (" + cond + ")"
			rule["on_resolve"] = rule["do"]
		case 4:
			rule["if"], rule["every"], rule["group_by"] = cond, period, key
		}
		doc, err := yaml.Marshal(map[string]any{"version": 1, "rules": []any{rule}})
		if err != nil {
			t.Skip(err)
		}
		rs, err := engine.Parse("fuzz.yaml", doc, engine.ParseOptions{})
		if err != nil {
			if len(engine.AsLoadErrors(err)) == 0 {
				t.Fatalf("Parse error is not LoadErrors: %T %v", err, err)
			}
			return
		}
		e := engine.New(rs, engine.Options{})
		for i, s := range fuzzSteps {
			wellFormed(t, feed(e, s, uint64(i+1)))
		}
		again := engine.New(rs, engine.Options{})
		if err := again.Restore(e.Snapshot()); err != nil {
			t.Fatalf("Restore(Snapshot()): %v", err)
		}
		feed(again, tick("2000h"), 100)
	})
}
