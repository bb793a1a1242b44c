package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/heraldmail/herald/internal/pipeline"
)

const reloadRulesV1 = `version: 1
rules:
  - name: count-sent
    on: sent
    every: 2
    do: [{slack: {text: "v1 {{ count }} sent"}}]
  - name: opens
    on: open
    every: 2
    do: [{slack: {text: "{{ count }} opens"}}]
`

// The second version keeps count-sent's state definition (only its text
// changes), changes opens' `every` and adds a rule.
const reloadRulesV2 = `version: 1
rules:
  - name: count-sent
    on: sent
    every: 2
    do: [{slack: {text: "v2 {{ count }} sent"}}]
  - name: opens
    on: open
    every: 3
    do: [{slack: {text: "{{ count }} opens"}}]
  - name: clicks
    on: click
    do: [{slack: {text: "click"}}]
`

func (d *daemon) rules() pipeline.RulesInfo {
	d.t.Helper()
	r := d.get("/api/rules")
	if r.code != http.StatusOK {
		d.t.Fatalf("GET /api/rules: %d %s", r.code, r.body)
	}
	var info pipeline.RulesInfo
	if err := json.Unmarshal([]byte(r.body), &info); err != nil {
		d.t.Fatal(err)
	}
	return info
}

func (d *daemon) firings(rule string) []pipeline.Job {
	d.t.Helper()
	r := d.get("/api/firings?rule=" + rule)
	if r.code != http.StatusOK {
		d.t.Fatalf("GET /api/firings: %d %s", r.code, r.body)
	}
	var jobs []pipeline.Job
	if err := json.Unmarshal([]byte(r.body), &jobs); err != nil {
		d.t.Fatalf("%v in %s", err, r.body)
	}
	return jobs
}

func sentEvent(typ string, id int) string {
	return fmt.Sprintf(`{"event":%q,"time":1700000000,"MessageID":%d,"email":"u%d@x.com"}`, typ, 576460765503091475+id, id)
}

func writeRules(t *testing.T, path, content string) {
	t.Helper()
	// Write a new file and rename it into place, as deploy tools do.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A change to the rules file is picked up: unchanged rules keep their
// state, changed ones start over, new ones start; a broken file is not
// applied and the previous rules keep running; events posted during
// reloads are each processed once.
func TestServeReload(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Rules = filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, cfg.Rules, reloadRulesV1)
	d := start(t, cfg)
	v1 := d.rules().Version
	for i, typ := range []string{"sent", "sent", "sent", "open"} {
		if r := d.post(sentEvent(typ, i)); r.code != http.StatusOK {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
	}
	waitUntil(t, "4 events processed", &d.signals.processed, func() bool { return d.rules().Events == 4 })

	writeRules(t, cfg.Rules, reloadRulesV2)
	waitUntil(t, "the file change to reload the rules", &d.signals.reloaded, func() bool { return d.rules().Version != v1 })
	// count-sent kept its count (3): the 4th sent fires with v2's text.
	// opens restarted: its first open after the reload does not fire.
	d.post(sentEvent("sent", 10))
	d.post(sentEvent("open", 11))
	d.post(sentEvent("click", 12))
	waitUntil(t, "7 events processed", &d.signals.processed, func() bool { return d.rules().Events == 7 })
	var texts []string
	for _, j := range d.firings("count-sent") {
		texts = append(texts, fmt.Sprint(jobParam(t, j, "text")))
	}
	if got := strings.Join(texts, "|"); got != "v2 4 sent|v1 2 sent" {
		t.Errorf("count-sent firings (newest first) = %q, want the 4th sent with v2's text", got)
	}
	if n := len(d.firings("opens")); n != 0 {
		t.Errorf("opens fired %d times; its changed definition should have reset its count", n)
	}
	if n := len(d.firings("clicks")); n != 1 {
		t.Errorf("the new rule fired %d times, want 1", n)
	}

	// A broken file: not applied, reported by the API and the next reload.
	v2 := d.rules().Version
	writeRules(t, cfg.Rules, strings.Replace(reloadRulesV2, "every: 3", "every: three", 1))
	waitUntil(t, "the reload error to be reported", &d.signals.reloaded, func() bool { return d.rules().LastError != "" })
	if info := d.rules(); info.Version != v2 || len(info.Rules) != 3 {
		t.Errorf("after a bad file: version %s with %d rules, want %s with 3", info.Version, len(info.Rules), v2)
	}
	req, _ := http.NewRequest(http.MethodPost, d.base+"/api/reload", nil)
	r := d.do(req)
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, `rule \"opens\": every: must be a whole number`) {
		t.Errorf("POST /api/reload with a bad file: %d %s", r.code, r.body)
	}

	// Events posted while reloads happen are each processed once.
	writeRules(t, cfg.Rules, reloadRulesV2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			req, _ := http.NewRequest(http.MethodPost, d.base+"/api/reload", nil)
			if r := d.do(req); r.code != http.StatusOK {
				t.Errorf("reload %d: %d %s", i, r.code, r.body)
			}
		}
	}()
	for i := 0; i < 40; i++ {
		d.post(sentEvent("click", 100+i))
	}
	wg.Wait()
	waitUntil(t, "47 events processed", &d.signals.processed, func() bool { return d.rules().Events == 47 })
	if n := len(d.firings("clicks")); n != 41 {
		t.Errorf("clicks fired %d times, want 41 (each event once)", n)
	}
}

// jobParam is one of a job's params.
func jobParam(t *testing.T, j pipeline.Job, key string) any {
	t.Helper()
	m, err := j.Action.ParamsMap()
	if err != nil {
		t.Fatal(err)
	}
	return m[key]
}
