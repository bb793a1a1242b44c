package engine

// plain fires once per matching event.
type plain struct{ base }

func (p *plain) event(e *Engine, ev *Event) {
	r := p.r
	env := e.eventEnv(ev)
	if !e.passes(r, env) {
		return
	}
	p.st.Matched++
	e.emit(firing{b: &p.base, id: newHash().u64(e.key).u64(uint64(e.now)), at: e.now, email: ev.Email, env: env, limitOn: true})
}

func (p *plain) advance(e *Engine) { p.expireLimit(e) }
func (p *plain) tick(*Engine)      {}
