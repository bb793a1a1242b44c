package engine

import "fmt"

// absence starts a timer for each matching event; the rule fires when the
// timer ends without an `unless.event` event with the same key. An unless
// event that arrives before its starting event (Mailjet does not sort
// events) cancels it too: it is remembered for `within`.
type absence struct {
	base
	pending table[int64] // key → deadline of its timer
	early   table[int64] // key → when an early unless event is forgotten
	timers  fifo[timer]
	earlyQ  fifo[expiry]
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
	if ev.Type == r.other {
		if a.pending.delete(kh) {
			e.explain(r, OutcomeCancelled, func() string { return fmt.Sprintf("cancels the timer of %s = %s", r.by.src, k) })
		} else if !r.matches(ev.Type) {
			// An unless event that may precede its start (Mailjet does not
			// sort events). When on and unless are one type (on: open,
			// unless: open) the event starts the next timer instead.
			at := e.now + int64(r.within)
			a.early.set(kh, at)
			a.earlyQ.push(expiry{kh, at})
		}
	}
	if !r.matches(ev.Type) || !e.passes(r, env) {
		return
	}
	a.st.Matched++
	if a.early.len() > 0 && a.early.delete(kh) { // its unless event came first
		e.explain(r, OutcomeCancelled, func() string { return fmt.Sprintf("its %s arrived first: no timer", r.other) })
		return
	}
	t := timer{key: kh, kept: kept{at: e.now + int64(r.within)}}
	if a.pending.add(kh, t.at) {
		e.explain(r, OutcomeTimer, func() string { return fmt.Sprintf("a timer already waits for %s = %s", r.by.src, k) })
		return // one timer per key: the earliest start counts
	}
	t.data = pack(ev, r.fields)
	a.timers.push(t)
	e.explain(r, OutcomeTimer, func() string {
		return fmt.Sprintf("fires in %s unless %s with %s = %s arrives", FormatDuration(r.within), r.other, r.by.src, k)
	})
}

// advance fires the timers that ended; their time is the deadline, also
// when herald was down and the deadline passed meanwhile.
func (a *absence) advance(e *Engine) {
	a.expireLimit(e.now)
	for {
		x, ok := a.earlyQ.due(e.now)
		if !ok {
			break
		}
		if at, ok := a.early.get(x.key); ok && at == x.at {
			a.early.delete(x.key)
		}
	}
	for {
		t, ok := a.timers.due(e.now)
		if !ok {
			return
		}
		if deadline, ok := a.pending.get(t.key); !ok || deadline != t.at {
			continue // cancelled
		}
		a.pending.delete(t.key)
		a.fire(e, t)
	}
}

func (a *absence) fire(e *Engine, t timer) {
	r := a.r
	ev := e.unpacked(t.data, r.fields)
	env := e.eventEnv(ev)
	k, _ := e.keyOf(r, r.by, env)
	e.emit(firing{r: r, key: k, id: newHash().u64(t.key).u64(uint64(t.at)), at: t.at, email: ev.Email, env: env, limitOn: true})
}

func (a *absence) tick(*Engine) {}
