package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/webhook"
)

// runReplay implements `herald replay --rules RULES.yaml [--config
// herald.yaml] EVENTS…`: it runs the rules over Mailjet payloads read from
// files (a JSON object, a JSON array, or JSON lines of either; "-" is
// standard input) with each event's `time` as the clock, and prints one
// JSON object per firing, or with --explain a text report of why each rule
// fired or did not.
func runReplay(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesPath := fs.String("rules", "", "rules `file` (required)")
	cfgPath := fs.String("config", "", "herald.yaml `file`: check actions against its connections")
	explain := fs.Bool("explain", false, "print, per event, which rules it reached and why each fired or not, instead of JSON lines")
	until := fs.String("until", "", "after the last event, advance the clock to this RFC 3339 `time`, or by a duration such as +24h, so pending timers fire")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: herald replay --rules RULES.yaml [--config herald.yaml] [--until +24h] [--explain] EVENTS…")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *rulesPath == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	opt, err := parseOptions(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "herald replay: %v\n", err)
		return 1
	}
	rs, err := engine.LoadFile(*rulesPath, opt)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rp := &replayer{out: json.NewEncoder(stdout)}
	if *explain {
		rp.exp = newExplainPrinter(stdout, rs, func(t time.Time) string { return t.UTC().Format(time.RFC3339) })
	}
	rp.sim = newSim(rs, simOptions{Explain: *explain, MaxTicks: maxTicksPerGap, Step: rp.step,
		OnError: func(rule string, err error) { fmt.Fprintf(stderr, "rule %s: %v\n", rule, err) }})
	for _, path := range fs.Args() {
		if err := rp.file(path, stdin); err != nil {
			fmt.Fprintf(stderr, "herald replay: %v\n", err)
			return 1
		}
	}
	if err := rp.finish(*until); err != nil {
		fmt.Fprintf(stderr, "herald replay: %v\n", err)
		return 2
	}
	return 0
}

// replayer feeds decoded events to the rules in input order, ticking the
// clock every second between events like herald serve does.
type replayer struct {
	sim *sim
	out *json.Encoder
	exp *explainPrinter // nil: JSON lines
}

// maxTicksPerGap bounds the ticks between two events far apart in time:
// beyond a day of seconds the clock jumps.
const maxTicksPerGap = 86400

func (rp *replayer) file(path string, stdin io.Reader) error {
	data, err := readInput(path, stdin)
	if err != nil {
		return err
	}
	if _, err := webhook.Check(data); err == nil {
		return rp.body(path, 1, data)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := rp.body(path, line, sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

// body feeds one webhook body: one log record, its events at their time.
func (rp *replayer) body(path string, line int, data []byte) error {
	events, err := webhook.Decode(data, time.Time{})
	if err != nil {
		return fmt.Errorf("%s:%d: %w", path, line, err)
	}
	rp.sim.record()
	for i := range events {
		ev := &events[i]
		ev.Received = time.Unix(ev.Time, 0).UTC()
		rp.sim.event(ev)
	}
	return nil
}

// finish advances the clock to --until, if given.
func (rp *replayer) finish(until string) error {
	if until == "" {
		return nil
	}
	var end time.Time
	if rest, ok := strings.CutPrefix(until, "+"); ok {
		d, err := engine.ParseDuration(rest)
		if err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		end = rp.sim.eng.Now().Add(d)
	} else {
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			return fmt.Errorf("--until: want an RFC 3339 time or +DURATION: %w", err)
		}
		end = t
	}
	rp.sim.until(end)
	return nil
}

// step prints what one event or tick did: its firings as JSON lines, or
// with --explain the text report.
func (rp *replayer) step(st *simStep) {
	if rp.exp != nil {
		rp.exp.step(st)
		return
	}
	for _, f := range st.Firings {
		_ = rp.out.Encode(replayFiring{Rule: f.Rule, ID: f.ID, At: f.At, Key: f.Key, Resolve: f.Resolve,
			Shadow: f.Shadow, Suppressed: f.AllSuppressed, Actions: renderedActions(f.Actions)})
	}
}

// replayFiring is what replay prints per firing.
type replayFiring struct {
	Rule    string    `json:"rule"`
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Key     string    `json:"key"`
	Resolve bool      `json:"resolve,omitempty"`
	Shadow  bool      `json:"shadow,omitempty"`
	// Suppressed is true when every mailjet recipient of the firing was
	// suppressed by an earlier event: herald serve sends them nothing.
	Suppressed bool             `json:"suppressed,omitempty"`
	Actions    []map[string]any `json:"actions"`
}

// renderedActions shows each action as {kind: params}, with its
// connection when it is not the default one.
func renderedActions(acts []engine.Action) []map[string]any {
	out := make([]map[string]any, len(acts))
	for i, a := range acts {
		var params any = a.Params
		if a.Connection != a.Kind || a.IgnoreSuppression {
			m, _ := a.ParamsMap() // the engine's params are always an object
			if m == nil {
				m = map[string]any{}
			}
			if a.Connection != a.Kind {
				m["connection"] = a.Connection
			}
			if a.IgnoreSuppression {
				m["ignore_suppression"] = true
			}
			params = m
		}
		out[i] = map[string]any{a.Kind: params}
	}
	return out
}
