package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldmail/herald/internal/lease"
	"github.com/heraldmail/herald/internal/metrics"
	"github.com/heraldmail/herald/internal/pipeline"
)

// engineRunner is the runner as one replica of several sees it: the admin
// API says which replica holds the engine and whether this replica's rules
// differ from the ones the engine runs.
type engineRunner struct {
	*pipeline.Runner
	lease    *lease.Lease
	version  atomic.Pointer[string] // the rules version loaded here
	mismatch prometheus.Gauge
	log      *slog.Logger

	mu     sync.Mutex // guards warned
	warned string     // the mismatch last warned about, "" when none
}

// newEngineRunner returns the wrapper; its Runner and lease are set next.
func newEngineRunner(version string, m *metrics.Metrics, log *slog.Logger) *engineRunner {
	r := &engineRunner{log: log, mismatch: prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_rules_mismatch",
		Help: "1 when the rules loaded on this replica differ from those of the replica running the engine."})}
	r.version.Store(&version)
	m.Registry.MustRegister(r.mismatch)
	return r
}

// Version returns the version of the rules loaded on this replica.
func (r *engineRunner) Version() string { return *r.version.Load() }

// Reload reloads the rules file, as Runner.Reload, and checks the new
// version against the engine's holder.
func (r *engineRunner) Reload(ctx context.Context) (string, error) {
	v, err := r.Runner.Reload(ctx)
	if err != nil {
		return "", err
	}
	r.version.Store(&v)
	r.checkRules()
	return v, nil
}

// engineHolder is the "engine" part of GET /api/rules and /readyz.
type engineHolder struct {
	// Replica is this replica's id.
	Replica string `json:"replica"`
	// Holder is the replica that holds the engine's lease, "" when none
	// does (between two holders).
	Holder string `json:"holder"`
	// Here is true on the replica that runs the engine.
	Here  bool       `json:"here"`
	Since *time.Time `json:"since,omitempty"`
	// HolderRules is the rules version the engine runs; RulesMismatch is
	// true when this replica loaded another one.
	HolderRules   string `json:"holder_rules,omitempty"`
	RulesMismatch bool   `json:"rules_mismatch"`
	// Counters says whether /api/rules' counters are the engine's.
	Counters string `json:"counters"`
}

const (
	countersLive  = "live"
	countersStale = "stale: this replica does not run the engine; counters are from its last turn, or empty"
)

// EngineHolder implements server.EngineHolder for /readyz.
func (r *engineRunner) EngineHolder() any { return r.holder() }

func (r *engineRunner) holder() engineHolder {
	info, ok := r.lease.Current()
	h := engineHolder{Replica: r.lease.ID(), Here: r.lease.Held(), Counters: countersStale}
	if ok {
		h.Holder, h.HolderRules, h.Since = info.Holder, info.Rules, &info.Since
		h.RulesMismatch = r.mismatched(info)
	}
	if h.Here {
		h.Counters = countersLive
	}
	return h
}

// rulesInfo is GET /api/rules on a replica: the loaded rules and counters,
// and who runs the engine.
type rulesInfo struct {
	pipeline.RulesInfo
	Engine engineHolder `json:"engine"`
}

// Rules returns the loaded rules with their counters and the engine's
// holder.
func (r *engineRunner) Rules(ctx context.Context) (any, error) {
	info, err := r.Runner.Rules(ctx)
	if err != nil {
		return nil, err
	}
	return rulesInfo{RulesInfo: info.(pipeline.RulesInfo), Engine: r.holder()}, nil
}

// mismatched reports whether this replica's rules differ from those the
// engine runs on another replica (the holder runs its own).
func (r *engineRunner) mismatched(info lease.Info) bool {
	return info.Holder != r.lease.ID() && info.Rules != "" && info.Rules != r.Version()
}

// checkRules compares this replica's rules with the engine's, sets
// herald_rules_mismatch and warns once per mismatch. It runs when the
// lease's value changes and after each reload.
func (r *engineRunner) checkRules() {
	info, ok := r.lease.Current()
	bad := ok && r.mismatched(info)
	r.mismatch.Set(b2f(bad))
	key := ""
	if bad {
		key = info.Holder + " " + info.Rules + " " + r.Version()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case key == r.warned:
	case bad:
		r.log.Warn("the rules loaded here differ from those the engine runs: reload the same rules file on every replica",
			"here", r.Version(), "engine", info.Rules, "holder", info.Holder)
	default:
		r.log.Info("the rules loaded here match the engine's again", "version", r.Version())
	}
	r.warned = key
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
