package engine

import (
	"fmt"
	"math"
)

// absence starts a timer for each matching event; the rule fires when the
// timer ends without an `unless.event` event with the same key. An unless
// event that arrives before its starting event (Mailjet does not sort
// events) cancels it too: it is remembered for `within`.
type absence struct {
	base
	// keys holds per key the deadline of its timer, or the negated time an
	// early unless event for it is forgotten. A key has one or the other,
	// and one table means one cache miss to find either: an unless event
	// looks for a timer and, finding none, notes itself; a start event
	// looks for an early unless event and, finding none, starts a timer.
	keys   table[int64]
	timers timerQueue
	earlyQ fifo[expiry]
}

func (a *absence) event(e *Engine, ev *Event) {
	r := a.r
	env := e.eventEnv(ev)
	k, ok := e.keyFor(r, r.by, env)
	if !ok || k.empty() {
		if ok {
			e.noKey(r, r.by, env)
		}
		return
	}
	kh := k.hash()
	other := e.isOther(r, ev)
	on := !other || r.onOther // the event reaches the rule: of its on type or its unless type
	if other {
		v, found := a.keys.get(kh)
		if found && v > 0 {
			a.keys.delete(kh)
			e.explain(r, OutcomeCancelled, func() string { return fmt.Sprintf("cancels the timer of %s = %s", r.by.src, k) })
		} else if !on {
			// An unless event that may precede its start (Mailjet does not
			// sort events). When on and unless are one type (on: open,
			// unless: open) the event starts the next timer instead.
			at := e.now + int64(r.within)
			a.keys.set(kh, -at)
			a.earlyQ.push(expiry{kh, at})
			e.wakeAt(at)
		}
	}
	if !on || !e.passes(r, env) {
		return
	}
	a.st.Matched++
	v, found := a.keys.get(kh)
	switch {
	case found && v < 0: // its unless event came first
		a.keys.delete(kh)
		e.explain(r, OutcomeCancelled, func() string { return fmt.Sprintf("its %s arrived first: no timer", r.other) })
		return
	case found:
		e.explain(r, OutcomeTimer, func() string { return fmt.Sprintf("a timer already waits for %s = %s", r.by.src, k) })
		return // one timer per key: the earliest start counts
	}
	at := e.now + int64(r.within)
	a.keys.set(kh, at)
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
		if v, ok := a.keys.get(x.key); ok && v == -x.at {
			a.keys.delete(x.key)
		}
	}
	for {
		t, data, ok := a.timers.due(e.now)
		if !ok {
			return
		}
		if deadline, ok := a.keys.get(t.key); !ok || deadline != t.at {
			continue // cancelled
		}
		a.keys.delete(t.key)
		a.fire(e, t, string(data))
	}
}

func (a *absence) fire(e *Engine, t timerEntry, data string) {
	r := a.r
	ev := e.unpacked(data, r.fields)
	env := e.eventEnv(ev)
	k, _ := e.keyOf(r, r.by, env)
	e.emit(firing{r: r, key: k, id: newHash().u64(t.key).u64(uint64(t.at)), at: t.at, email: ev.Email, env: env, limitOn: true})
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
		if last >= 0 { // full: keep only the bytes it uses
			full := q.blocks[last]
			full.data = append([]byte(nil), full.data...)
		}
		q.blocks = append(q.blocks, &timerBlock{entries: make([]timerEntry, 0, fifoBlock)})
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
