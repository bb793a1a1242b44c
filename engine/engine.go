package engine

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/vm"
)

// Options configure an Engine.
type Options struct {
	// DedupHorizon is how long an event's identity is remembered to drop
	// duplicates (DESIGN §5). Default 24h.
	DedupHorizon time.Duration
	// OnError is told about runtime errors of expressions and templates
	// (the event is skipped for that rule; other rules and events go on).
	OnError func(rule string, err error)
	// Explain, when set, is told for every event and rule what happened
	// and why (herald replay --explain). It costs nothing when nil.
	Explain func(Explanation)
}

// Engine evaluates rules over events and clock ticks. It is deterministic:
// the same events and ticks, with the same times and positions, produce the
// same firings with the same ids. It never reads the wall clock, the network
// or the disk, and it is not safe for concurrent use.
type Engine struct {
	rules   *RuleSet
	opt     Options
	now     int64     // the engine clock, Unix nanoseconds: the largest time seen
	nowTime time.Time // now as a time, for expressions (setNow)
	runners []runner
	// advancing are the runners with something to expire as the clock
	// moves (timers, predecessors, a limit), ticking those that re-evaluate
	// on ticks (windows): the others' advance and tick do nothing, and
	// Event calls advance for every event.
	advancing, ticking []runner
	quiet              int64 // advance has nothing to expire before this time (0: not known)
	evType             int   // typeNumber of the event being processed
	byRule             map[string]runner
	bases              map[*Rule]*base // each runner's counters and limit, by its rule
	byType             map[string][]runner
	byMailjetType      [len(mailjetTypes)][]runner // byType of the types Mailjet sends (typeNumber)
	any                []runner
	dedup              dedupSet
	stats              Stats

	vm  vm.VM
	rnd renderer // renders actions' params (with vm)
	env env
	// envDirty says env differs from what eventEnv writes for its event:
	// the clock moved, or a rule set prev, count or group in it.
	envDirty bool
	out      []Firing
	pos      uint64 // log position being processed
	key      uint64 // dedup key of the event being processed
	ev       *Event // the event being processed
	old      Event  // an event unpacked from state: see unpacked
}

// Stats counts what the engine did.
type Stats struct {
	Events     uint64               `json:"events"`
	Duplicates uint64               `json:"duplicates"`
	SendTests  uint64               `json:"send_tests"`
	Errors     uint64               `json:"errors"`
	Rules      map[string]RuleStats `json:"rules"`
}

// RuleStats counts one rule's work: events that reached it and passed its
// condition, firings, and firings held back by its limit.
type RuleStats struct {
	Matched    uint64 `json:"matched"`
	Fired      uint64 `json:"fired"`
	Suppressed uint64 `json:"suppressed"`
	Errors     uint64 `json:"errors"`
}

// runner is the state and behaviour of one rule kind.
type runner interface {
	rule() *Rule
	// event handles an event whose type the rule looks at.
	event(e *Engine, ev *Event)
	// advance handles the clock moving to e.now: due timers, expiries.
	advance(e *Engine)
	// tick re-evaluates conditions that depend on time alone.
	tick(e *Engine)
}

// New returns an engine running rs with empty state.
func New(rs *RuleSet, opt Options) *Engine {
	if opt.DedupHorizon <= 0 {
		opt.DedupHorizon = 24 * time.Hour
	}
	e := &Engine{opt: opt}
	e.setNow(0)
	e.dedup.horizon = int64(opt.DedupHorizon)
	e.install(rs, nil)
	return e
}

// install makes rs the engine's rules, keeping the runners of old whose
// stateful definition is unchanged.
func (e *Engine) install(rs *RuleSet, old map[string]runner) {
	e.rules = rs
	e.runners, e.advancing, e.ticking = e.runners[:0], e.advancing[:0], e.ticking[:0]
	e.quiet = 0 // the next advance asks every runner
	e.byRule = map[string]runner{}
	e.bases = map[*Rule]*base{}
	e.byType = map[string][]runner{}
	e.any = nil
	stores := map[uint64]*predStore{}   // the predecessors kept so far, by shareKey
	counts := map[uint64]*windowStore{} // the windows' counts, by windowShareKey
	for _, run := range old {
		switch x := run.(type) {
		case *sequence:
			stores[x.preds.key] = x.preds
		case *window:
			counts[x.store.key] = x.store
		}
	}
	for _, r := range rs.Rules {
		if !r.Enabled {
			continue
		}
		run := old[r.Name]
		if run == nil || run.rule().stateHash != r.stateHash {
			run = newRunner(r)
		} else {
			run = rebind(run, r)
		}
		switch x := run.(type) {
		case *sequence:
			key := shareKey(r)
			if stores[key] == nil {
				stores[key] = newPredStore(r)
			}
			x.preds = stores[key]
		case *window:
			key := windowShareKey(r)
			if counts[key] == nil {
				counts[key] = &windowStore{key: key}
			}
			x.store = counts[key]
		}
		e.runners = append(e.runners, run)
		switch run.(type) {
		case *sequence, *absence:
			e.advancing = append(e.advancing, run)
		default:
			if run.(interface{ state() *base }).state().lim != nil {
				e.advancing = append(e.advancing, run)
			}
		}
		if _, ok := run.(*window); ok {
			e.ticking = append(e.ticking, run)
		}
		e.byRule[r.Name] = run
		e.bases[r] = run.(interface{ state() *base }).state()
	}
	shareCounts(e.runners)
	shareAbsenceKeys(e.runners)
	for t, list := range rs.byType {
		for _, r := range list {
			e.byType[t] = append(e.byType[t], e.byRule[r.Name])
		}
	}
	for n, t := range mailjetTypes {
		e.byMailjetType[n] = e.byType[t]
	}
	for _, r := range rs.any {
		e.any = append(e.any, e.byRule[r.Name])
	}
}

// Reload replaces the rules. A rule whose stateful definition (its kind,
// types, conditions, keys and periods) is unchanged keeps its state; a
// changed or new rule starts empty; a removed rule's state is dropped.
// Predecessors are an exception: they do not depend on the rule that
// keeps them (predStore), so a new or changed sequence rule waiting for
// the same ones as a rule before the reload finds those already kept.
// Window counts are the other: a new or changed window rule that counts
// like a kept one (windowStore) starts with its counts.
func (e *Engine) Reload(rs *RuleSet) {
	old := e.byRule
	e.install(rs, old)
}

// Rules returns the rules the engine runs.
func (e *Engine) Rules() *RuleSet { return e.rules }

// Now returns the engine clock: the largest time it has seen.
func (e *Engine) Now() time.Time { return e.nowTime }

// setNow sets the clock, in both its forms.
func (e *Engine) setNow(t int64) {
	e.now, e.nowTime = t, time.Unix(0, t).UTC()
	e.envDirty = true
}

// Duplicates returns how many events were dropped as duplicates: Stats's
// Duplicates, without building the rules' counters.
func (e *Engine) Duplicates() uint64 { return e.stats.Duplicates }

// Stats returns a copy of the engine's counters. Rules appear once they
// counted something; a rule's counters go with its state (a reload that
// resets the state resets them).
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Rules = make(map[string]RuleStats, len(e.runners))
	for _, run := range e.runners {
		if st := run.(interface{ state() *base }).state().st; st != (RuleStats{}) {
			s.Rules[run.rule().Name] = st
		}
	}
	return s
}

// Event processes one event at log position pos. Its Received time
// advances the clock (an event received earlier than the clock is processed
// at the clock's time). Duplicates and "Send test" events match no rule.
// The returned slice is reused by the next call.
func (e *Engine) Event(ev *Event, pos uint64) []Firing {
	e.out = e.out[:0]
	e.pos = pos
	e.advance(ev.Received.UnixNano())
	if ev.IsSendTest() {
		e.stats.SendTests++
		e.explain(nil, OutcomeSendTest, func() string { return "a \"Send test\" event (MessageID 0, no email): no rule sees it" })
		return e.out
	}
	e.key = ev.DedupKey()
	if e.dedup.seen(e.key, e.now) {
		e.stats.Duplicates++
		e.explain(nil, OutcomeDuplicate, func() string {
			return fmt.Sprintf("a duplicate of an earlier %s event (same MessageID and email): no rule sees it", ev.Type)
		})
		return e.out
	}
	e.stats.Events++
	if len(ev.PayloadMap) > 0 && hasNumbers(ev.PayloadMap) || len(ev.Extra) > 0 && hasNumbers(ev.Extra) {
		// Expressions compare numbers as numbers: work on a copy with
		// json.Number turned into int64 or float64, leaving the caller's
		// event as it is.
		c := *ev
		c.PayloadMap = normalizedCopy(ev.PayloadMap).(map[string]any)
		if ev.Extra != nil {
			c.Extra = normalizedCopy(ev.Extra).(map[string]any)
		}
		ev = &c
	}
	e.explainTypes(ev)
	e.ev = ev
	var runs []runner
	if e.evType = typeNumber(ev.Type); e.evType >= 0 {
		runs = e.byMailjetType[e.evType]
	} else {
		runs = e.byType[ev.Type]
	}
	for _, run := range runs {
		run.event(e, ev)
	}
	for _, run := range e.any {
		run.event(e, ev)
	}
	e.ev = nil
	return e.out
}

// Tick advances the clock to at (never backwards) and re-evaluates
// time-driven conditions: absence timers, window resolutions and repeats.
// The returned slice is reused by the next call.
func (e *Engine) Tick(at time.Time, pos uint64) []Firing {
	e.out = e.out[:0]
	e.pos = pos
	e.advance(at.UnixNano())
	for _, run := range e.ticking {
		run.tick(e)
	}
	return e.out
}

// advance moves the clock forward and lets every rule expire what is due.
func (e *Engine) advance(t int64) {
	if t > e.now {
		e.setNow(t)
	}
	e.dedup.expire(e.now)
	if e.now < e.quiet {
		return
	}
	e.quiet = math.MaxInt64
	for _, run := range e.advancing {
		run.advance(e)
	}
}

// wakeAt notes that a runner has something to expire at at. Each runner's
// advance notes the next thing it has to expire, and each new timer,
// predecessor or limited firing its own time, so advance can skip every
// runner until the earliest of them.
func (e *Engine) wakeAt(at int64) {
	if at < e.quiet {
		e.quiet = at
	}
}

// eval runs a program; a runtime error is counted against the rule and
// reported, and ok is false.
func (e *Engine) eval(r *Rule, p *program, env *env) (any, bool) {
	if p.fast != nil {
		if v := p.fast(env); v.k != fNil {
			return v.any(), true
		}
	}
	return e.run(r, p, env)
}

// run runs a program on expr's VM.
func (e *Engine) run(r *Rule, p *program, env *env) (any, bool) {
	v, err := e.vm.Run(p.prog, env)
	if err != nil {
		e.fail(r, fmt.Errorf("%s: %w", p.src, err))
		return nil, false
	}
	return v, true
}

// test runs a bool program; nil programs are true.
func (e *Engine) test(r *Rule, p *program, env *env) bool {
	if p == nil {
		return true
	}
	if p.pred != nil {
		if v, ok := p.pred(env); ok {
			return v
		}
	}
	v, ok := e.run(r, p, env)
	b, isBool := v.(bool)
	if ok && !isBool {
		e.fail(r, fmt.Errorf("%s: result is %T, not a bool", p.src, v))
	}
	return ok && b
}

// keyVal is a key (by, group_by, limit.by) as evaluated: a string, or an
// integer kept as one so hashing it needs no formatting.
type keyVal struct {
	s   string
	n   int64
	num bool
}

func (k keyVal) empty() bool { return k.s == "" && (!k.num || k.n == 0) }

// hash identifies the key in the rules' maps.
func (k keyVal) hash() uint64 {
	if k.num {
		return uint64(newHash().u64(uint64(k.n)))
	}
	return uint64(newHash().str(k.s))
}

// eventKey is the by key of the event being processed and its hash,
// computed once for the rules that compute it alike (the same by: rules
// sharing predecessors or absence keys).
type eventKey struct {
	at uint64 // the engine's event count when computed
	k  keyVal
	kh uint64
}

// of returns the key of the event being processed for rule r; on an
// error each rule counts its own.
func (m *eventKey) of(e *Engine, r *Rule, env *env) (keyVal, uint64, bool) {
	if m.at == e.stats.Events {
		return m.k, m.kh, true
	}
	k, ok := e.keyFor(r, r.by, env)
	if !ok {
		return k, 0, false
	}
	m.at, m.k, m.kh = e.stats.Events, k, k.hash()
	return k, m.kh, true
}

func (k keyVal) String() string {
	if k.num {
		return strconv.FormatInt(k.n, 10)
	}
	return k.s
}

// keyFor evaluates a key expression. A bare field name is read directly; a
// zero id counts as missing (empty).
func (e *Engine) keyFor(r *Rule, p *program, env *env) (keyVal, bool) {
	if p == nil {
		return keyVal{}, true
	}
	var v any
	if p.field >= 0 && env.Event != nil {
		switch f := fields[p.field]; f.kind {
		case reflect.String:
			return keyVal{s: *(*string)(unsafe.Add(unsafe.Pointer(env.Event), f.off))}, true
		case reflect.Int64:
			n := *(*int64)(unsafe.Add(unsafe.Pointer(env.Event), f.off))
			return keyVal{n: n, num: n != 0}, true
		}
		v = fieldValue(env.Event, p.field)
	} else {
		var ok bool
		if v, ok = e.eval(r, p, env); !ok {
			return keyVal{}, false
		}
	}
	switch x := v.(type) {
	case string:
		return keyVal{s: x}, true
	case int64:
		return keyVal{n: x, num: x != 0}, true
	case int:
		return keyVal{n: int64(x), num: x != 0}, true
	}
	return keyVal{s: formatValue(v)}, true
}

// keyOf evaluates a key expression as a string ("" when missing).
func (e *Engine) keyOf(r *Rule, p *program, env *env) (string, bool) {
	k, ok := e.keyFor(r, p, env)
	return k.String(), ok
}

// passes evaluates the rule's `if` for env, explaining a false one.
func (e *Engine) passes(r *Rule, env *env) bool {
	if e.test(r, r.cond, env) {
		return true
	}
	e.explain(r, OutcomeIf, func() string {
		return fmt.Sprintf("if %s is false (%s)", r.cond.src, seen(r.cond, env))
	})
	return false
}

// noKey explains an event skipped for an empty key.
func (e *Engine) noKey(r *Rule, p *program, env *env) {
	e.explain(r, OutcomeNoKey, func() string {
		return fmt.Sprintf("%s is empty (%s): the event is not counted", p.src, seen(p, env))
	})
}

func (e *Engine) fail(r *Rule, err error) {
	e.stats.Errors++
	if b := e.bases[r]; b != nil {
		b.st.Errors++
	}
	if e.opt.OnError != nil {
		e.opt.OnError(r.Name, err)
	}
	e.explain(r, OutcomeError, err.Error)
}

// unpacked returns the event that data packs, in a buffer of the engine's
// that the next call reuses: the expr environment makes any event it sees
// escape, and a predecessor or a timer's event is unpacked for one
// evaluation.
func (e *Engine) unpacked(data string, fields fieldSet) *Event {
	e.old = Event{}
	unpack(data, fields, &e.old)
	return &e.old
}

// eventEnv returns the environment of an event's expressions. The rules
// an event reaches share one, written again only when it holds another
// event or a rule changed it (envDirty).
func (e *Engine) eventEnv(ev *Event) *env {
	if e.env.Event != ev || e.envDirty {
		e.env = env{Event: ev, Now: e.nowTime}
		e.envDirty = false
	}
	return &e.env
}

// firing describes a firing for emit.
type firing struct {
	b       *base  // the rule's runner's
	key     keyVal // the rule's key (group, by value), shown in the firing
	id      hash64 // what makes the id unique within the rule
	at      int64
	resolve bool
	email   string
	env     *env
	limitOn bool // apply the rule's limit
}

// emit renders a firing's actions and appends it, unless the rule's limit
// holds it back. It reports whether the firing was emitted.
func (e *Engine) emit(f firing) bool {
	b := f.b
	r := b.r
	if f.limitOn && r.limit != nil && !e.allow(r, b.lim, f.env) {
		b.st.Suppressed++
		e.explain(r, OutcomeLimited, func() string {
			return fmt.Sprintf("limit reached: %d firing(s) per %s already", r.limit.max, FormatDuration(r.limit.per))
		})
		return false
	}
	specs := r.do
	if f.resolve {
		specs = r.onResolve
	}
	acts := e.rnd.actions(len(specs))
	e.rnd.m = &e.vm
	for _, a := range specs {
		act, err := a.render(&e.rnd, f.env)
		if err != nil {
			e.fail(r, err)
			return false
		}
		acts = append(acts, act)
	}
	id := f.id.u64(r.stateHash)
	e.out = append(e.out, Firing{
		ID:      e.rnd.firingID(r.Name, uint64(id)),
		Rule:    r.Name,
		At:      time.Unix(0, f.at).UTC(),
		Key:     e.rnd.key(f.key),
		Resolve: f.resolve,
		Shadow:  r.Shadow,
		Pos:     e.pos,
		Email:   f.email,
		Actions: acts,
	})
	b.st.Fired++
	e.explain(r, OutcomeFired, func() string {
		if f.resolve {
			return "resolved: on_resolve runs"
		}
		return "fired " + e.out[len(e.out)-1].ID
	})
	return true
}
