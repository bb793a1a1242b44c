package engine

import (
	"cmp"
	"slices"
)

// Each kind saves and loads its state; the limiter is saved first by all.

func (b *base) saveLimit(w *writer) {
	w.i(b.lastAt)
	w.u(b.nAt)
	if b.lim == nil { // the count 0, and no queue
		w.u(0)
		return
	}
	keys, times := b.lim.sorted()
	w.u(uint64(len(keys)))
	for i, k := range keys {
		w.u(k)
		w.ints(times[i])
	}
	w.expiries(b.lim.queue.live())
}

func (b *base) loadLimit(r *reader) {
	b.lastAt, b.nAt = r.i(), r.u()
	n := r.n()
	if b.lim == nil {
		return // saveLimit wrote the count only
	}
	for range n {
		k := r.u()
		b.lim.load(k, r.ints())
	}
	for _, x := range r.expiries() {
		b.lim.queue.push(x)
	}
}

func (p *plain) save(w *writer) { p.saveLimit(w) }
func (p *plain) load(r *reader) { p.loadLimit(r) }

func (x *every) save(w *writer) {
	x.saveLimit(w)
	keys := make([]string, 0, len(x.counts))
	for k := range x.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.u(uint64(len(keys)))
	for _, k := range keys {
		w.s(k)
		w.i(*x.counts[k])
	}
}

func (x *every) load(r *reader) {
	x.loadLimit(r)
	for range r.n() {
		k, n := r.s(), r.i()
		x.counts[k] = &n
	}
}

func (s *sequence) save(w *writer) {
	s.saveLimit(w)
	var waiting []stored
	for _, k := range sortedKeys64(s.waiting) {
		waiting = append(waiting, s.waiting[k]...)
	}
	w.stored(waiting)
	w.stored(s.waitQ.live())
}

func (s *sequence) load(r *reader) {
	s.loadLimit(r)
	if r.version == 1 { // the rule's own predecessors: to its store
		s.preds.v1Preds = append(s.preds.v1Preds, r.timers()...)
		s.preds.v1Queue = append(s.preds.v1Queue, r.expiries()...)
	}
	for _, w := range r.stored() {
		s.waiting[w.key] = append(s.waiting[w.key], w)
	}
	for _, w := range r.stored() {
		s.waitQ.push(w)
	}
}

// save writes the store under its key; a restore gives it to the rules
// with the same shareKey, whichever they are.
func (p *predStore) save(w *writer) {
	w.u(p.key)
	w.timers(p.preds.sorted())
	w.expiries(p.queue.live())
}

func (p *predStore) load(r *reader) {
	for _, v := range r.timers() {
		p.preds.set(v.key, v.kept)
	}
	for _, x := range r.expiries() {
		p.queue.push(x)
	}
}

// loadedV1 puts in the store the predecessors that version 1 snapshots
// kept in each rule's section. Rules that now share the store each had
// their own copy: a key keeps its latest predecessor, and the expiries are
// merged in time order, as the queue needs.
func (p *predStore) loadedV1() {
	for _, v := range p.v1Preds {
		if cur, ok := p.preds.get(v.key); !ok || cur.at < v.at {
			p.preds.set(v.key, v.kept)
		}
	}
	slices.SortFunc(p.v1Queue, func(a, b expiry) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.key, b.key)) })
	for i, x := range p.v1Queue {
		if i == 0 || x != p.v1Queue[i-1] {
			p.queue.push(x)
		}
	}
	p.v1Preds, p.v1Queue = nil, nil
}

// predStores returns the engine's predecessor stores in key order.
func (e *Engine) predStores() []*predStore {
	var out []*predStore
	for _, run := range e.runners {
		if s, ok := run.(*sequence); ok && !slices.Contains(out, s.preds) {
			out = append(out, s.preds)
		}
	}
	slices.SortFunc(out, func(a, b *predStore) int { return cmp.Compare(a.key, b.key) })
	return out
}

// An absence saves its timers' deadlines and its early unless events'
// times as two lists, as when they were two tables.
func (a *absence) save(w *writer) {
	a.saveLimit(w)
	all := a.keys.sorted(a.col)
	timers := 0
	for _, s := range all {
		if s.v > 0 {
			timers++
		}
	}
	w.u(uint64(timers))
	for _, s := range all {
		if s.v > 0 {
			w.u(s.k)
			w.i(s.v)
		}
	}
	w.u(uint64(len(all) - timers))
	for _, s := range all {
		if s.v < 0 {
			w.u(s.k)
			w.i(-s.v)
		}
	}
	w.timers(a.timers.live())
	w.expiries(a.earlyQ.live())
}

func (a *absence) load(r *reader) {
	a.loadLimit(r)
	for range r.n() {
		k := r.u()
		a.keys.set(a.col, k, r.i())
	}
	for range r.n() {
		k, at := r.u(), r.i()
		if _, timer := a.keys.get(a.col, k); !timer { // a key has one or the other
			a.keys.set(a.col, k, -at)
		}
	}
	for _, t := range r.timers() {
		a.timers.pushPacked(t)
	}
	for _, x := range r.expiries() {
		a.earlyQ.push(x)
	}
}

func saveTimes(w *writer, t *table[int64]) {
	all := t.sorted()
	w.u(uint64(len(all)))
	for _, s := range all {
		w.u(s.k)
		w.i(s.v)
	}
}

func loadTimes(r *reader, t *table[int64]) {
	for range r.n() {
		k := r.u()
		t.set(k, r.i())
	}
}

func (w *window) save(wr *writer) {
	w.saveLimit(wr)
	wr.u(uint64(len(w.groups)))
	for _, g := range w.groups {
		wr.s(g.key)
		wr.i(g.newest)
		wr.ints(g.n)
		wr.ints(g.ints)
		wr.floats(g.floats)
		wr.i(g.totN)
		wr.ints(g.totI)
		wr.floats(g.totF)
		wr.u(uint64(len(g.seen)))
		for i := range g.seen {
			saveTimes(wr, &g.seen[i])
		}
		wr.u(uint64(len(g.seenBy)))
		for _, hs := range g.seenBy {
			wr.u(uint64(len(hs)))
			for _, h := range hs {
				wr.u(h)
			}
		}
		wr.bool(g.active)
		wr.i(g.lastFire)
	}
}

func (w *window) load(r *reader) {
	w.loadLimit(r)
	ni, nf, nd := w.r.aggCounts()
	for range r.n() {
		g := &wgroup{key: r.s(), wcounts: &wcounts{newest: r.i(), n: r.ints(), ints: r.ints(), floats: r.floats(),
			totN: r.i(), totI: r.ints(), totF: r.floats()}}
		g.seen = make([]table[int64], r.n())
		for i := range g.seen {
			loadTimes(r, &g.seen[i])
		}
		g.seenBy = make([][]uint64, r.n())
		for i := range g.seenBy {
			g.seenBy[i] = make([]uint64, r.n())
			for j := range g.seenBy[i] {
				g.seenBy[i][j] = r.u()
			}
		}
		g.active, g.lastFire = r.bool(), r.i()
		nb := w.r.buckets
		if len(g.n) != nb || len(g.totI) != ni || len(g.totF) != nf || len(g.seen) != nd ||
			len(g.ints) != nb*ni || len(g.floats) != nb*nf || len(g.seenBy) != nb*nd {
			r.fail("window group shape")
			return
		}
		w.store.adopt(w, g)
		w.index[g.key] = len(w.groups)
		w.groups = append(w.groups, g)
	}
}
