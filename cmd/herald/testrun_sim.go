package main

import (
	"net/mail"
	"strings"
	"time"

	"github.com/heraldmail/herald/engine"
)

// sim runs rules over events the way herald serve does, for herald replay
// and herald test: events are fed in the order herald receives them, the
// clock ticks every whole second between them, and the recipients that
// earlier events suppressed (unsubscribes, spam complaints, hard bounces,
// blocks) are tracked so firings that would mail them are marked.
type sim struct {
	eng *engine.Engine
	pos uint64    // the log position: one per record
	n   int       // events fed so far
	at  time.Time // the clock: the last event's or tick's time
	// tick is the last tick; zero before the first event or until call.
	tick time.Time
	// maxTicks bounds the ticks of one gap between events: beyond it the
	// clock jumps. 0 ticks every second however long the gap.
	maxTicks int
	supp     map[string]suppression // lower-cased address → why
	// label names where the next events come from (a tests file's line);
	// it is copied to their steps.
	label string
	expl  []engine.Explanation
	// step is told about every event and about every tick that fired
	// something or, when explaining, was explained.
	step func(*simStep)
}

// simOptions configure a sim.
type simOptions struct {
	Explain  bool
	MaxTicks int
	OnError  func(rule string, err error)
	Step     func(*simStep)
}

// simStep is what one event or tick did.
type simStep struct {
	Event   *engine.Event // nil for a tick
	N       int           // the event's number, from 1
	Label   string        // where the event comes from, if known
	At      time.Time     // the clock
	Firings []simFiring
	// Expl are the engine's explanations, when explaining; they are reused
	// by the next step.
	Expl []engine.Explanation
}

// simFiring is a firing with what suppression makes of it.
type simFiring struct {
	engine.Firing
	// Suppressed lists the firing's mailjet recipients that earlier events
	// suppressed (actions with ignore_suppression are not looked at).
	Suppressed []suppressedRecipient
	// AllSuppressed is true when the firing has mailjet recipients and
	// every one of them is suppressed: it sends no email.
	AllSuppressed bool
}

// suppression is why a recipient gets no more Mailjet follow-ups.
type suppression struct {
	Reason string // unsub, spam, hard_bounce, blocked
	Event  int    // the event's number
	At     time.Time
}

// suppressedRecipient is a firing's recipient and why it is suppressed.
type suppressedRecipient struct {
	Email string
	suppression
}

func newSim(rs *engine.RuleSet, opt simOptions) *sim {
	s := &sim{maxTicks: opt.MaxTicks, supp: map[string]suppression{}, step: opt.Step}
	eo := engine.Options{OnError: opt.OnError}
	if opt.Explain {
		eo.Explain = func(x engine.Explanation) { s.expl = append(s.expl, x) }
	}
	s.eng = engine.New(rs, eo)
	return s
}

// record starts a new log record: the events fed until the next call share
// its position, as the events of one webhook body do.
func (s *sim) record() { s.pos++ }

// event ticks the clock up to ev.Received, records whom ev suppresses, then
// feeds it to the engine. Like herald serve, a suppressing event is recorded
// before the firings it causes, so it suppresses them too.
func (s *sim) event(ev *engine.Event) {
	s.ticksUntil(ev.Received)
	s.n++
	if reason := engine.SuppressReason(ev); reason != "" {
		s.supp[normalAddress(ev.Email)] = suppression{Reason: reason, Event: s.n, At: ev.Received}
	}
	if ev.Received.After(s.at) {
		s.at = ev.Received
	}
	fs := s.eng.Event(ev, s.pos)
	s.report(&simStep{Event: ev, N: s.n, Label: s.label, At: s.at}, fs, true)
}

// until ticks the clock up to t.
func (s *sim) until(t time.Time) { s.ticksUntil(t) }

// ticksUntil ticks every whole second after the last tick up to t.
func (s *sim) ticksUntil(t time.Time) {
	if s.tick.IsZero() {
		s.tick = t.Truncate(time.Second)
		return
	}
	if gap := t.Sub(s.tick); s.maxTicks > 0 && gap > time.Duration(s.maxTicks)*time.Second {
		s.tick = t.Add(-time.Duration(s.maxTicks) * time.Second).Truncate(time.Second)
	}
	for next := s.tick.Add(time.Second); !next.After(t); next = next.Add(time.Second) {
		s.tick = next
		if next.After(s.at) {
			s.at = next
		}
		fs := s.eng.Tick(next, s.pos)
		if len(fs) > 0 || len(s.expl) > 0 {
			s.report(&simStep{At: next}, fs, false)
		}
	}
}

// report hands a step to the step function.
func (s *sim) report(st *simStep, fs []engine.Firing, always bool) {
	if len(fs) > 0 {
		st.Firings = make([]simFiring, len(fs))
		for i := range fs {
			st.Firings[i] = s.suppressed(fs[i])
		}
	}
	st.Expl = s.expl
	if s.step != nil && (always || len(fs) > 0 || len(s.expl) > 0) {
		s.step(st)
	}
	s.expl = s.expl[:0]
}

// suppressed marks the firing's suppressed mailjet recipients.
func (s *sim) suppressed(f engine.Firing) simFiring {
	out := simFiring{Firing: f}
	total := 0
	for _, a := range f.Actions {
		if a.Kind != engine.ActionMailjet || a.IgnoreSuppression {
			continue
		}
		params, _ := a.ParamsMap() // the engine's params are always an object
		for _, addr := range recipientAddresses(params["to"]) {
			total++
			if why, ok := s.supp[normalAddress(addr)]; ok {
				out.Suppressed = append(out.Suppressed, suppressedRecipient{Email: addr, suppression: why})
			}
		}
	}
	out.AllSuppressed = total > 0 && len(out.Suppressed) == total
	return out
}

// recipientAddresses reads a mailjet action's rendered `to`: an address,
// "Name <address>", an object {email, name}, or a list of those.
func recipientAddresses(v any) []string {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []string
	for _, x := range list {
		switch r := x.(type) {
		case string:
			if a, err := mail.ParseAddress(r); err == nil {
				out = append(out, a.Address)
			} else if strings.TrimSpace(r) != "" {
				out = append(out, strings.TrimSpace(r))
			}
		case map[string]any:
			if e, ok := r["email"].(string); ok && e != "" {
				out = append(out, strings.TrimSpace(e))
			}
		}
	}
	return out
}

// normalAddress is the form addresses are compared in, as the suppression
// list stores them: trimmed and lower-cased.
func normalAddress(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
