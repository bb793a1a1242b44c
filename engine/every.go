package engine

import "fmt"

// every fires each time a group's count of matching events reaches a
// multiple of N. Counts are exact: one event adds one, so no multiple is
// skipped or reached twice.
type every struct {
	base
	counts map[string]*int64 // by group: one look-up an event
}

func (x *every) event(e *Engine, ev *Event) {
	r := x.r
	env := e.eventEnv(ev)
	if !e.passes(r, env) {
		return
	}
	group, ok := e.keyOf(r, r.groupBy, env)
	if !ok || (r.groupBy != nil && group == "") {
		if ok {
			e.noKey(r, r.groupBy, env)
		}
		return // events without a group are not counted
	}
	x.st.Matched++
	c := x.counts[group]
	if c == nil {
		c = new(int64)
		x.counts[group] = c
	}
	*c++
	n := *c
	if n%r.every != 0 {
		e.explain(r, OutcomeCounted, func() string {
			return fmt.Sprintf("count %d: fires at %d", n, (n/r.every+1)*r.every)
		})
		return
	}
	env.Count, env.Group = n, group
	e.envDirty = true
	e.emit(firing{b: &x.base, key: keyVal{s: group}, id: newHash().str(group).u64(uint64(n)).u64(uint64(e.now)), at: e.now,
		email: ev.Email, env: env, limitOn: true})
}

func (x *every) advance(e *Engine) { x.expireLimit(e) }
func (x *every) tick(*Engine)      {}
