package engine

import (
	"fmt"
	"strings"
)

// windowBuckets is how many buckets a window is cut into, at most, with
// buckets of at least a second: an event counts for between window -
// bucket and window after it arrived.
const windowBuckets = 60

// window keeps a sliding window of aggregates per group and fires when
// `when` becomes true for a group (edge-triggered), then not again until it
// resolves (or `repeat` has passed while it stays true).
type window struct {
	base
	groups []*wgroup      // in creation order, for deterministic ticks
	index  map[string]int // group → position in groups
	store  *windowStore   // the counts, perhaps shared with other rules
	col    int            // the rule's place among the store's rules (wcounts.byRule)
}

// wgroup is one group of a window rule: the counts, which the rules
// counting alike share (windowStore), and the rule's own state of the
// group.
type wgroup struct {
	key string
	*wcounts
	active   bool
	lastFire int64
	// evaluated is the counts' version when the rule last evaluated the
	// group: a tick re-evaluates only the groups whose conditions can have
	// changed (window.tick).
	evaluated uint64
}

// wcounts is one group's counts: a ring of buckets with running totals.
type wcounts struct {
	newest int64 // number of the newest bucket (time / bucket width)
	n      []int64
	ints   []int64   // bucket × int slot (count(pred); the count() and distinct slots stay 0)
	floats []float64 // per bucket × float aggregates
	totN   int64
	totI   []int64
	totF   []float64
	// distinct values: value hash → newest bucket it was seen in, and per
	// bucket the values seen there.
	seen   []table[int64]
	seenBy [][]uint64
	// version counts the changes of the totals (an event added, a bucket
	// with events emptied), so that each rule sharing them can tell what
	// changed since it last looked.
	version uint64
	refs    int       // the groups of rules that use these counts
	byRule  []*wgroup // each rule's group of these counts, by window.col (nil: none yet)
}

// windowStore keeps the counts of the window rules that count alike: the
// same on types, if, group_by, window and aggregates (windowShareKey).
// Five alert thresholds on one window count each event once, and each
// rule keeps only whether it fired for a group. Rules that share a store
// see the same events with the same key, so the first of them to see an
// event counts it for all.
type windowStore struct {
	key     uint64
	width   int // how many rules share the store
	counts  map[string]*wcounts
	counted uint64   // the engine's event count when the store last counted
	cur     *wcounts // the counts that event went to, which the other rules use without a look-up
	curKey  string   // their group
	added   bool     // whether that event was counted (its aggregates' arguments did not fail)

	// env is where the rules' conditions read a group's aggregates, which
	// are the same for every rule of the store (values): those of counts
	// valued at its version valuedAt.
	env      env
	valued   *wcounts
	valuedAt uint64
}

// windowShareKey identifies what a window rule counts: the compiled forms
// of its if, group_by and aggregate arguments hold the values of the vars
// they read.
func windowShareKey(r *Rule) uint64 {
	h := newHash().str(strings.Join(r.On, ",")).u64(uint64(r.bucket)).u64(uint64(r.buckets))
	for _, p := range []*program{r.cond, r.groupBy} {
		if p == nil {
			h = h.str("")
			continue
		}
		h = h.str(p.prog.Node().String())
	}
	for _, a := range r.aggs {
		h = h.u64(uint64(a.kind)).u64(uint64(a.slot))
		if a.arg == nil {
			h = h.str("")
			continue
		}
		h = h.str(a.arg.prog.Node().String())
	}
	return uint64(h)
}

// shareCounts makes the window rules that share a store use its counts for
// each group, after a reload changed which rules share it: the counts of
// the rules kept, the first rule's where two kept rules had their own
// (they counted the same events, unless one was added later).
func shareCounts(runners []runner) {
	stores := map[*windowStore]bool{}
	for _, run := range runners {
		if w, ok := run.(*window); ok {
			if !stores[w.store] {
				stores[w.store] = true
				w.store.width = 0
			}
			w.col = w.store.width
			w.store.width++
		}
	}
	for s := range stores {
		s.counts = map[string]*wcounts{}
	}
	for _, run := range runners {
		w, ok := run.(*window)
		if !ok {
			continue
		}
		for _, g := range w.groups {
			g.refs = 0
		}
	}
	for _, run := range runners {
		w, ok := run.(*window)
		if !ok {
			continue
		}
		for _, g := range w.groups {
			w.store.adopt(w, g)
		}
	}
}

// adopt makes g, rule w's group with counts of its own (kept by a reload,
// or loaded from a snapshot), use the store's counts of its key when an
// earlier rule's group brought them (they counted the same events), or
// puts its counts in the store. The group is evaluated on the next tick.
func (s *windowStore) adopt(w *window, g *wgroup) {
	if c := s.counts[g.key]; c != nil {
		g.wcounts = c
	} else {
		g.byRule = make([]*wgroup, s.width)
		s.counts[g.key] = g.wcounts
	}
	g.byRule[w.col] = g
	g.refs++
	g.evaluated = g.version - 1
}

// use returns the counts of key, creating them in r's shape.
func (s *windowStore) use(r *Rule, key string) *wcounts {
	c := s.counts[key]
	if c == nil {
		ni, nf, nd := r.aggCounts()
		nb := r.buckets
		c = &wcounts{n: make([]int64, nb), ints: make([]int64, nb*ni), floats: make([]float64, nb*nf),
			totI: make([]int64, ni), totF: make([]float64, nf)}
		if nd > 0 {
			c.seen = make([]table[int64], nd)
			c.seenBy = make([][]uint64, nb*nd)
		}
		c.byRule = make([]*wgroup, s.width)
		s.counts[key] = c
	}
	c.refs++
	return c
}

// release lets go of rule col's group of key, dropping the counts when no
// rule uses them.
func (s *windowStore) release(key string, c *wcounts, col int) {
	c.byRule[col] = nil
	if c.refs--; c.refs == 0 && s.counts[key] == c {
		delete(s.counts, key)
	}
}

func (w *window) event(e *Engine, ev *Event) {
	r, s := w.r, w.store
	if s.counted == e.stats.Events {
		// An earlier rule of the store counted the event: its if passed
		// and its group is this rule's too.
		w.st.Matched++
		if s.added {
			w.evaluate(e, w.groupOf(s.cur, s.curKey))
		}
		return
	}
	env := e.eventEnv(ev)
	if !e.passes(r, env) {
		return
	}
	key, ok := e.keyOf(r, r.groupBy, env)
	if !ok || (r.groupBy != nil && key == "") {
		if ok {
			e.noKey(r, r.groupBy, env)
		}
		return // events without a group are not counted
	}
	w.st.Matched++
	g := w.groupOf(s.counts[key], key)
	s.counted, s.cur, s.curKey = e.stats.Events, g.wcounts, key
	g.rotate(e.now / int64(r.bucket))
	if s.added = w.add(e, g, env); s.added {
		w.evaluate(e, g)
	}
}

// groupOf returns the rule's group of key, whose counts are c (nil: none
// yet), creating it.
func (w *window) groupOf(c *wcounts, key string) *wgroup {
	if c != nil {
		if g := c.byRule[w.col]; g != nil {
			return g
		}
	}
	return w.group(key)
}

// group returns the rule's group of key, creating it.
func (w *window) group(key string) *wgroup {
	if i, ok := w.index[key]; ok {
		return w.groups[i]
	}
	g := &wgroup{key: key, wcounts: w.store.use(w.r, key)}
	g.byRule[w.col] = g
	w.index[key] = len(w.groups)
	w.groups = append(w.groups, g)
	return g
}

// add counts the event into the newest bucket. It returns false when an
// aggregate's argument failed on this event (the event is not counted).
func (w *window) add(e *Engine, g *wgroup, env *env) bool {
	r := w.r
	var buf [4]aggArg // most windows have up to four aggregates
	xs := buf[:0]
	for _, a := range r.aggs {
		x, ok := w.argument(e, a, env)
		if !ok {
			return false
		}
		xs = append(xs, x)
	}
	b := int(g.newest % int64(len(g.n)))
	g.n[b]++
	g.totN++
	g.version++
	ni, nf, nd := len(g.totI), len(g.totF), len(g.seen)
	di := 0
	for i, a := range r.aggs {
		switch x := xs[i]; a.kind {
		case aggDistinct:
			g.seen[di].set(x.h, g.newest)
			g.seenBy[b*nd+di] = append(g.seenBy[b*nd+di], x.h)
			di++
		case aggCountIf:
			if x.f != 0 {
				g.ints[b*ni+a.slot]++
				g.totI[a.slot]++
			}
		case aggRatio, aggSum, aggAvg:
			g.floats[b*nf+a.slot] += x.f
			g.totF[a.slot] += x.f
		}
	}
	return true
}

// aggArg is what one event adds to an aggregate: a number (1 or 0 for
// count(pred) and ratio(pred)), or for distinct its value's hash.
type aggArg struct {
	f float64
	h uint64
}

// argument evaluates an aggregate's argument for one event; ok is false
// when it failed.
func (w *window) argument(e *Engine, a *aggregate, env *env) (aggArg, bool) {
	if a.kind == aggCount {
		return aggArg{}, true
	}
	isPred := a.kind == aggCountIf || a.kind == aggRatio
	if isPred && a.arg.pred != nil {
		if v, known := a.arg.pred(env); known {
			return aggArg{f: one(v)}, true
		}
	}
	v, ok := e.eval(w.r, a.arg, env)
	switch {
	case !ok:
		return aggArg{}, false
	case isPred:
		return aggArg{f: one(v == true)}, true
	case a.kind == aggDistinct:
		return aggArg{h: uint64(newHash().str(formatValue(v)))}, true
	}
	return aggArg{f: toFloat(v)}, true
}

// one is 1 for true, 0 for false.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// rotate moves the group's newest bucket to cur, emptying the buckets that
// fall out of the window.
func (g *wcounts) rotate(cur int64) {
	if cur <= g.newest {
		return
	}
	nb := int64(len(g.n))
	steps := min(cur-g.newest, nb)
	ni, nf, nd := len(g.totI), len(g.totF), len(g.seen)
	for s := int64(1); s <= steps; s++ {
		b := int((g.newest + s) % nb)
		if g.n[b] != 0 {
			g.version++
		}
		g.totN -= g.n[b]
		g.n[b] = 0
		for i := 0; i < ni; i++ {
			g.totI[i] -= g.ints[b*ni+i]
			g.ints[b*ni+i] = 0
		}
		for i := 0; i < nf; i++ {
			g.totF[i] -= g.floats[b*nf+i]
			g.floats[b*nf+i] = 0
		}
		for d := 0; d < nd; d++ {
			g.forget(b, d, cur)
		}
	}
	g.newest = cur
}

// forget drops the distinct values last seen in bucket b.
func (g *wcounts) forget(b, d int, cur int64) {
	nd := len(g.seen)
	for _, h := range g.seenBy[b*nd+d] {
		if last, ok := g.seen[d].get(h); ok && last <= cur-int64(len(g.n)) {
			g.seen[d].delete(h)
		}
	}
	g.seenBy[b*nd+d] = g.seenBy[b*nd+d][:0]
}

// values fills the environment's aggregates from the group's totals. The
// rules of a store have the same aggregates: the first to evaluate a group
// fills them, and the others find them filled until the counts or the
// clock move.
func (w *window) values(e *Engine, g *wgroup) *env {
	s := w.store
	v := &s.env
	if s.valued == g.wcounts && s.valuedAt == g.version && v.Now == e.nowTime {
		return v
	}
	s.valued, s.valuedAt = g.wcounts, g.version
	if len(v.AggI) != len(g.totI) || len(v.AggF) != len(g.totF) {
		v.AggI, v.AggF = make([]int64, len(g.totI)), make([]float64, len(g.totF))
	}
	ai, af := v.AggI, v.AggF
	n := float64(g.totN)
	di := 0
	for _, a := range w.r.aggs { // each slot is one aggregate's
		switch a.kind {
		case aggCount:
			ai[a.slot] = g.totN
		case aggCountIf:
			ai[a.slot] = g.totI[a.slot]
		case aggDistinct:
			ai[a.slot] = int64(g.seen[di].len())
			di++
		case aggRatio, aggAvg:
			af[a.slot] = 0
			if n > 0 {
				af[a.slot] = g.totF[a.slot] / n
			}
		case aggSum:
			af[a.slot] = g.totF[a.slot]
		}
	}
	v.Group, v.Now = g.key, e.nowTime
	return v
}

// evaluate applies the edge-triggered logic to one group.
func (w *window) evaluate(e *Engine, g *wgroup) {
	r := w.r
	g.evaluated = g.version
	env := w.values(e, g)
	when := e.test(r, r.when, env)
	switch {
	case !g.active && when:
		g.active, g.lastFire = true, e.now
		e.emit(firing{b: &w.base, key: keyVal{s: g.key}, id: w.id(e, g, "fire"), at: e.now, env: env, limitOn: true})
	case g.active && w.resolved(e, env, when):
		g.active = false
		if len(r.onResolve) > 0 {
			e.emit(firing{b: &w.base, key: keyVal{s: g.key}, id: w.id(e, g, "resolve"), at: e.now, env: env, resolve: true})
		}
	case g.active && when && r.repeat > 0 && e.now-g.lastFire >= int64(r.repeat):
		g.lastFire = e.now
		e.emit(firing{b: &w.base, key: keyVal{s: g.key}, id: w.id(e, g, "repeat"), at: e.now, env: env, limitOn: true})
	case g.active:
		e.explain(r, OutcomeActive, func() string {
			return fmt.Sprintf("group %q already fired and has not resolved (%s)", g.key, aggregateValues(r, env))
		})
	default:
		e.explain(r, OutcomeBelow, func() string {
			return fmt.Sprintf("group %q: when %s is false (%s)", g.key, r.when.src, aggregateValues(r, env))
		})
	}
}

// id makes a window firing's id from its group, time and kind, and the
// rule's count of firings at this instant (fire, resolve and fire again
// can happen at one time).
func (w *window) id(e *Engine, g *wgroup, kind string) hash64 {
	return newHash().str(g.key).u64(uint64(e.now)).str(kind).u64(w.instant(e.now))
}

func (w *window) resolved(e *Engine, env *env, when bool) bool {
	if w.r.resolveWhen == nil {
		return !when
	}
	return e.test(w.r, w.r.resolveWhen, env)
}

func (w *window) advance(e *Engine) { w.expireLimit(e) }

// tick re-evaluates the groups as the window slides, and forgets groups
// that are empty and inactive. A group whose aggregates did not move since
// it was last evaluated gives the same when and resolve_when, unless they
// read now(): it is evaluated again only when a repeat may be due (or when
// explaining, so that each tick is explained).
func (w *window) tick(e *Engine) {
	r := w.r
	cur := e.now / int64(r.bucket)
	for i := 0; i < len(w.groups); {
		g := w.groups[i]
		g.rotate(cur)
		if g.evaluated != g.version || r.whenNow || g.active && r.repeat > 0 || e.opt.Explain != nil {
			w.evaluate(e, g)
		}
		if g.totN == 0 && !g.active {
			w.remove(i)
			continue
		}
		i++
	}
}

// remove drops groups[i], moving the last group into its place.
func (w *window) remove(i int) {
	last := len(w.groups) - 1
	w.store.release(w.groups[i].key, w.groups[i].wcounts, w.col)
	delete(w.index, w.groups[i].key)
	if i != last {
		w.groups[i] = w.groups[last]
		w.index[w.groups[i].key] = i
	}
	w.groups[last] = nil
	w.groups = w.groups[:last]
}

// aggCounts returns how many int slots, float slots and distinct
// aggregates the rule has.
func (r *Rule) aggCounts() (ni, nf, nd int) {
	for _, a := range r.aggs {
		if a.isInt {
			ni++
		} else {
			nf++
		}
		if a.kind == aggDistinct {
			nd++
		}
	}
	return ni, nf, nd
}
