package engine

import (
	"fmt"
	"math"
	"slices"
)

// absence starts a timer for each matching event; the rule fires when the
// timer ends without an `unless.event` event with the same key. An unless
// event that arrives before its starting event (Mailjet does not sort
// events) cancels it too: it is remembered for `within`.
type absence struct {
	base
	// keys holds per key the deadline of its timer, or the negated time an
	// early unless event for it is forgotten, in column col. A key has one
	// or the other, and one table means one cache miss to find either: an
	// unless event looks for a timer and, finding none, notes itself; a
	// start event looks for an early unless event and, finding none,
	// starts a timer.
	keys   *absenceKeys
	col    int
	timers timerQueue
	earlyQ fifo[expiry]
}

// absenceKeys holds the keys of the absence rules with the same by
// (absenceShareKey), a column each: ten reminders on one sent event find
// their timers with one look-up instead of ten. With one rule byKey holds
// its values; with more, a row number into vals, which has a value per
// rule a row (0: none; a deadline or a negated time is never 0).
type absenceKeys struct {
	evKey eventKey   // the event's key, which the rules compute alike
	rules []*absence // by column
	byKey table[int64]
	vals  [][]int64 // rows, rowChunk a slice: growing copies none
	rows  int64     // rows made
	free  []int64   // rows to reuse
}

// rowChunk is how many rows of absenceKeys.vals are made at once.
const rowChunk = 1024

// row returns row x of vals.
func (s *absenceKeys) row(x int64) []int64 {
	w := len(s.rules)
	i := int(x%rowChunk) * w
	return s.vals[x/rowChunk][i : i+w : i+w]
}

// newRow returns an empty row of vals.
func (s *absenceKeys) newRow() int64 {
	if n := len(s.free); n > 0 {
		x := s.free[n-1]
		s.free = s.free[:n-1]
		return x
	}
	if s.rows%rowChunk == 0 {
		s.vals = append(s.vals, make([]int64, rowChunk*len(s.rules)))
	}
	s.rows++
	return s.rows - 1
}

// absenceShareKey identifies what an absence rule's keys are: its by in its
// compiled form, which holds the values of the vars it reads.
func absenceShareKey(r *Rule) uint64 {
	if r.by == nil {
		return uint64(newHash().str(""))
	}
	return uint64(newHash().str(r.by.prog.Node().String()))
}

func (s *absenceKeys) get(col int, k uint64) (int64, bool) {
	x, ok := s.byKey.get(k)
	if !ok || len(s.rules) == 1 {
		return x, ok
	}
	v := s.row(x)[col]
	return v, v != 0
}

func (s *absenceKeys) set(col int, k uint64, v int64) {
	w := len(s.rules)
	if w == 1 {
		s.byKey.set(k, v)
		return
	}
	p, present := s.byKey.ref(k)
	if !present {
		*p = s.newRow()
	}
	s.row(*p)[col] = v
}

func (s *absenceKeys) delete(col int, k uint64) {
	w := len(s.rules)
	if w == 1 {
		s.byKey.delete(k)
		return
	}
	x, ok := s.byKey.get(k)
	if !ok {
		return
	}
	row := s.row(x)
	row[col] = 0
	for _, v := range row {
		if v != 0 {
			return
		}
	}
	s.byKey.delete(k)
	s.free = append(s.free, x)
}

// sorted returns a column's keys and values in key order (snapshots).
func (s *absenceKeys) sorted(col int) []slot[int64] {
	all := s.byKey.sorted()
	if len(s.rules) == 1 {
		return all
	}
	out := all[:0]
	for _, sl := range all {
		if v := s.row(sl.v)[col]; v != 0 {
			out = append(out, slot[int64]{v: v, k: sl.k})
		}
	}
	return out
}

// shareAbsenceKeys gives the absence runners their keys: the rules with
// the same by share one absenceKeys, as they were if the reload kept the
// same rules sharing; otherwise a new one takes each kept rule's keys.
func shareAbsenceKeys(runners []runner) {
	groups := map[uint64][]*absence{}
	var order []uint64
	for _, run := range runners {
		if a, ok := run.(*absence); ok {
			k := absenceShareKey(a.r)
			if groups[k] == nil {
				order = append(order, k)
			}
			groups[k] = append(groups[k], a)
		}
	}
	for _, k := range order {
		rules := groups[k]
		if old := rules[0].keys; old != nil && slices.Equal(old.rules, rules) {
			continue // the same rules in the same columns (and so the same by)
		}
		s := &absenceKeys{rules: rules}
		for col, a := range rules {
			if a.keys != nil {
				for _, sl := range a.keys.sorted(a.col) {
					s.set(col, sl.k, sl.v)
				}
			}
		}
		for col, a := range rules {
			a.keys, a.col = s, col
		}
	}
}

func (a *absence) event(e *Engine, ev *Event) {
	r := a.r
	env := e.eventEnv(ev)
	k, kh, ok := a.keys.evKey.of(e, r, env)
	if !ok || k.empty() {
		if ok {
			e.noKey(r, r.by, env)
		}
		return
	}
	other := e.isOther(r, ev)
	on := !other || r.onOther // the event reaches the rule: of its on type or its unless type
	if other {
		v, found := a.keys.get(a.col, kh)
		if found && v > 0 {
			a.keys.delete(a.col, kh)
			e.explain(r, OutcomeCancelled, func() string { return fmt.Sprintf("cancels the timer of %s = %s", r.by.src, k) })
		} else if !on {
			// An unless event that may precede its start (Mailjet does not
			// sort events). When on and unless are one type (on: open,
			// unless: open) the event starts the next timer instead.
			at := e.now + int64(r.within)
			a.keys.set(a.col, kh, -at)
			a.earlyQ.push(expiry{kh, at})
			e.wakeAt(at)
		}
	}
	if !on || !e.passes(r, env) {
		return
	}
	a.st.Matched++
	v, found := a.keys.get(a.col, kh)
	switch {
	case found && v < 0: // its unless event came first
		a.keys.delete(a.col, kh)
		e.explain(r, OutcomeCancelled, func() string { return fmt.Sprintf("its %s arrived first: no timer", r.other) })
		return
	case found:
		e.explain(r, OutcomeTimer, func() string { return fmt.Sprintf("a timer already waits for %s = %s", r.by.src, k) })
		return // one timer per key: the earliest start counts
	}
	at := e.now + int64(r.within)
	a.keys.set(a.col, kh, at)
	a.timers.push(kh, at, ev, r.fields)
	e.wakeAt(at)
	e.explain(r, OutcomeTimer, func() string {
		return fmt.Sprintf("fires in %s unless %s with %s = %s arrives", FormatDuration(r.within), r.other, r.by.src, k)
	})
}

// advance fires the timers that ended; their time is the deadline, also
// when herald was down and the deadline passed meanwhile.
func (a *absence) advance(e *Engine) {
	a.expireLimit(e)
	defer func() { e.wakeAt(min(a.earlyQ.next(), a.timers.next())) }()
	for {
		x, ok := a.earlyQ.due(e.now)
		if !ok {
			break
		}
		if v, ok := a.keys.get(a.col, x.key); ok && v == -x.at {
			a.keys.delete(a.col, x.key)
		}
	}
	for {
		t, data, ok := a.timers.due(e.now)
		if !ok {
			return
		}
		if deadline, ok := a.keys.get(a.col, t.key); !ok || deadline != t.at {
			continue // cancelled
		}
		a.keys.delete(a.col, t.key)
		a.fire(e, t, string(data))
	}
}

func (a *absence) fire(e *Engine, t timerEntry, data string) {
	r := a.r
	ev := e.unpacked(data, r.fields)
	env := e.eventEnv(ev)
	k, _ := e.keyFor(r, r.by, env)
	e.emit(firing{b: &a.base, key: k, id: newHash().u64(t.key).u64(uint64(t.at)), at: t.at, email: ev.Email, env: env, limitOn: true})
}

func (a *absence) tick(*Engine) {}

// timerQueue is the fifo of an absence rule's timers. The packed events
// live in a byte block beside each block of entries, so a timer costs its
// 24-byte entry and its packed bytes: no string header and no allocation
// of its own. A block's bytes are trimmed to size when the block is full,
// and dropped with it when its last timer ends.
type timerQueue struct {
	blocks []*timerBlock
	head   int // next entry of blocks[0]
	n      int
}

type timerBlock struct {
	entries []timerEntry
	data    []byte
}

// timerEntry is a timer: its key, deadline and where its packed event is
// in the block's data.
type timerEntry struct {
	key      uint64
	at       int64
	off, len uint32
}

// next returns when the oldest timer ends, math.MaxInt64 when none waits.
func (q *timerQueue) next() int64 {
	if q.n == 0 {
		return math.MaxInt64
	}
	return q.blocks[0].entries[q.head].at
}

func (q *timerQueue) push(key uint64, at int64, ev *Event, fs fieldSet) {
	last := len(q.blocks) - 1
	if last < 0 || len(q.blocks[last].entries) == fifoBlock {
		size := 0
		if last >= 0 {
			// The new block's bytes are sized as the full one's, and the
			// full one keeps only the bytes it uses, unless it wastes little.
			full := q.blocks[last]
			size = len(full.data) + len(full.data)/32
			if cap(full.data)-len(full.data) > len(full.data)/16 {
				full.data = append([]byte(nil), full.data...)
			}
		}
		q.blocks = append(q.blocks, &timerBlock{entries: make([]timerEntry, 0, fifoBlock), data: make([]byte, 0, size)})
		last++
	}
	b := q.blocks[last]
	off := len(b.data)
	b.data = appendPacked(b.data, ev, fs)
	b.entries = append(b.entries, timerEntry{key: key, at: at, off: uint32(off), len: uint32(len(b.data) - off)})
	q.n++
}

// due pops the oldest timer when it ends at or before now; data is its
// packed event, valid until the caller lets go of it.
func (q *timerQueue) due(now int64) (timerEntry, []byte, bool) {
	if q.n == 0 || q.blocks[0].entries[q.head].at > now {
		return timerEntry{}, nil, false
	}
	b := q.blocks[0]
	t := b.entries[q.head]
	data := b.data[t.off : t.off+t.len : t.off+t.len]
	q.head++
	q.n--
	if q.head == len(b.entries) {
		if len(q.blocks) == 1 {
			b.entries, b.data, q.head = b.entries[:0], b.data[:0:0], 0
		} else if q.head == fifoBlock {
			q.blocks[0] = nil
			q.blocks, q.head = q.blocks[1:], 0
		}
	}
	return t, data, true
}

// live returns the pending timers in order, for snapshots.
func (q *timerQueue) live() []timer {
	out := make([]timer, 0, q.n)
	for i, b := range q.blocks {
		entries := b.entries
		if i == 0 {
			entries = entries[q.head:]
		}
		for _, t := range entries {
			out = append(out, timer{key: t.key, kept: kept{at: t.at, data: string(b.data[t.off : t.off+t.len])}})
		}
	}
	return out
}

// pushPacked adds a timer whose event is already packed (from a snapshot).
func (q *timerQueue) pushPacked(t timer) {
	q.push(t.key, t.at, nil, 0)
	b := q.blocks[len(q.blocks)-1]
	e := &b.entries[len(b.entries)-1]
	e.off = uint32(len(b.data))
	b.data = append(b.data, t.data...)
	e.len = uint32(len(t.data))
}
