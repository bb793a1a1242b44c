package sim

import (
	"math/rand/v2"
	"time"
)

// Schedule says how events become webhook bodies and when each is due.
type Schedule struct {
	// Rate, when not zero, spaces events evenly at this many a second,
	// whatever their simulated times.
	Rate float64
	// Speed compresses simulated time when Rate is zero: an event At is
	// due (At - Start) / Speed after the start; 0 means 1 (real time).
	Speed float64
	// Version 1 posts one event a body; Version 2 posts arrays of the
	// events due within one Window (default 1s), shuffled as Mailjet's
	// are not sorted, at most MaxBatch (default 1,000) a body.
	Version  int
	Window   time.Duration
	MaxBatch int
	// Seed shuffles Version 2 bodies.
	Seed uint64
}

// Body is one webhook body.
type Body struct {
	// Due is when it is to be posted, from the start of the run.
	Due    time.Duration
	Events []Event
	// JSON is the body: an object (Version 1) or an array (Version 2).
	JSON []byte
}

// Bodies turns a Generator's events into bodies, in order of Due.
type Bodies struct {
	gen   *Generator
	s     Schedule
	r     *rand.Rand
	n     int // events taken from gen
	ahead *dueEvent
}

// dueEvent is an event read but not yet in a body, and when it is due.
type dueEvent struct {
	ev  Event
	due time.Duration
}

// NewBodies returns the bodies of g's events under s.
func NewBodies(g *Generator, s Schedule) *Bodies {
	if s.Speed <= 0 {
		s.Speed = 1
	}
	if s.Window <= 0 {
		s.Window = time.Second
	}
	if s.MaxBatch <= 0 {
		s.MaxBatch = 1000
	}
	return &Bodies{gen: g, s: s, r: rand.New(rand.NewPCG(s.Seed, 0x5eed))}
}

// Next returns the next body, or false when the traffic is over.
func (bs *Bodies) Next() (Body, bool) {
	ev, due, ok := bs.take()
	if !ok {
		return Body{}, false
	}
	if bs.s.Version != 2 {
		return Body{Due: due, Events: []Event{ev}, JSON: ev.JSON}, true
	}
	window := due / bs.s.Window
	b := Body{Due: (window + 1) * bs.s.Window, Events: []Event{ev}}
	for len(b.Events) < bs.s.MaxBatch {
		next, nextDue, ok := bs.take()
		if !ok {
			break
		}
		if nextDue/bs.s.Window != window {
			bs.ahead = &dueEvent{next, nextDue}
			break
		}
		b.Events = append(b.Events, next)
	}
	bs.r.Shuffle(len(b.Events), func(i, j int) { b.Events[i], b.Events[j] = b.Events[j], b.Events[i] })
	size := 2
	for _, e := range b.Events {
		size += len(e.JSON) + 1
	}
	b.JSON = make([]byte, 0, size)
	b.JSON = append(b.JSON, '[')
	for i, e := range b.Events {
		if i > 0 {
			b.JSON = append(b.JSON, ',')
		}
		b.JSON = append(b.JSON, e.JSON...)
	}
	b.JSON = append(b.JSON, ']')
	return b, true
}

// take returns the next event and when it is due.
func (bs *Bodies) take() (Event, time.Duration, bool) {
	if a := bs.ahead; a != nil {
		bs.ahead = nil
		return a.ev, a.due, true
	}
	ev, ok := bs.gen.Next()
	if !ok {
		return Event{}, 0, false
	}
	bs.n++
	if bs.s.Rate > 0 {
		return ev, time.Duration(float64(bs.n-1) / bs.s.Rate * float64(time.Second)), true
	}
	return ev, time.Duration(float64(ev.At.Sub(bs.gen.cfg.Start)) / bs.s.Speed), true
}
