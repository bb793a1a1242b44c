package engine

import (
	"fmt"
	"unsafe"
)

// stored is an event kept for later: its identity (dedup key), when it
// expires, and the fields the rule needs, packed.
type stored struct {
	key  uint64 // the correlation key's hash
	at   int64  // when it stops counting
	id   uint64 // the event's dedup key, for firing ids
	data string // pack(event, rule.fields)
}

func (s stored) when() int64 { return s.at }

// kept is a stored event whose key is its map key and whose identity is
// not needed: a predecessor, an absence's start. 24 bytes and the packed
// fields, which are often none.
type kept struct {
	at   int64
	data string
}

// timer is a kept event with its key, as snapshots hold absence timers
// and predecessors.
type timer struct {
	key uint64
	kept
}

// sequence fires when an `on` event follows an `after.event` event with the
// same key within `after.within`. Each predecessor is kept for `within`; a
// successor that arrives first waits up to `within` for its predecessor.
type sequence struct {
	base
	preds   *predStore          // the predecessors, perhaps shared with other rules
	waiting map[uint64][]stored // key → successors that came first
	waitQ   fifo[stored]
}

func (s *sequence) event(e *Engine, ev *Event) {
	r := s.r
	env := e.eventEnv(ev)
	other := e.isOther(r, ev)
	successor := !other || r.onOther // the event reaches the rule: of its on type or its after type
	if successor && !r.condPrev && !e.passes(r, env) {
		// An `if` that does not read prev is the same before and after
		// the look-up: a successor that fails it needs none.
		if !other {
			return
		}
		successor = false
	}
	k, kh, ok := s.preds.evKey.of(e, r, env)
	if !ok || k.empty() {
		if ok {
			e.noKey(r, r.by, env)
		}
		return // nothing to correlate on
	}
	if successor {
		// An event that is also of the after type (on: open, after: open)
		// becomes the next one's predecessor rather than waiting for one.
		s.successor(e, ev, k, kh, !other)
	}
	if other {
		s.predecessor(e, ev, k, kh)
	}
}

func (s *sequence) successor(e *Engine, ev *Event, k keyVal, kh uint64, mayWait bool) {
	pred, ok := s.preds.lookup(e, kh)
	if !ok && !mayWait {
		return
	}
	if !ok {
		w := stored{key: kh, at: e.now + int64(s.r.within), id: e.key, data: pack(ev, s.r.fields)}
		s.waiting[kh] = append(s.waiting[kh], w)
		s.waitQ.push(w)
		e.wakeAt(w.at)
		e.explain(s.r, OutcomeWaiting, func() string {
			return fmt.Sprintf("no %s with %s = %s yet: waits up to %s for it", s.r.other, s.r.by.src, k, FormatDuration(s.r.within))
		})
		return
	}
	s.fire(e, ev, e.unpacked(pred.data, s.r.prevFields), e.key, k)
}

func (s *sequence) predecessor(e *Engine, ev *Event, k keyVal, kh uint64) {
	s.preds.store(e, kh, ev)
	e.explain(s.r, OutcomeStored, func() string {
		return fmt.Sprintf("kept for %s as the %s of %s = %s", FormatDuration(s.r.within), s.r.other, s.r.by.src, k)
	})
	waiting := s.waiting[kh]
	if len(waiting) == 0 {
		return
	}
	delete(s.waiting, kh)
	for _, w := range waiting {
		s.fire(e, e.unpacked(w.data, s.r.fields), ev, w.id, k)
	}
}

// fire evaluates the condition with prev and emits.
func (s *sequence) fire(e *Engine, ev, prev *Event, id uint64, k keyVal) {
	r := s.r
	env := e.eventEnv(ev)
	env.Prev = prev
	e.envDirty = true
	if r.condPrev && !e.passes(r, env) { // else it passed in event
		return
	}
	s.st.Matched++
	e.emit(firing{b: &s.base, key: k, id: newHash().u64(id).u64(uint64(e.now)), at: e.now, email: ev.Email, env: env, limitOn: true})
}

func (s *sequence) advance(e *Engine) {
	s.expireLimit(e)
	s.preds.expire(e.now)
	defer func() { e.wakeAt(min(s.preds.queue.next(), s.waitQ.next())) }()
	for {
		x, ok := s.waitQ.due(e.now)
		if !ok {
			break
		}
		ws := s.waiting[x.key]
		for len(ws) > 0 && ws[0].at <= e.now {
			ws = ws[1:]
		}
		if len(ws) == 0 {
			delete(s.waiting, x.key)
		} else {
			s.waiting[x.key] = ws
		}
	}
}

func (s *sequence) tick(*Engine) {}

// predStore keeps the predecessors of the sequence rules that wait for the
// same ones: the same after.event, by and within, and the same prev fields
// (shareKey). Ten rules on "open after a sent" keep each sent once, and
// the ten lookups of an open find it in the cache. What a rule keeps does
// not depend on its on, if or actions; a rule whose on types include its
// after.event has a store of its own, since its events are successors
// before they are predecessors.
type predStore struct {
	key    uint64
	within int64
	fields fieldSet
	preds  predecessors
	queue  fifo[expiry]
	last   uint64 // the engine's event count when it last stored: one store per event

	// The key and the look-up of the event being processed, which the
	// rules sharing the store compute alike (they have the same by): the
	// look-up for the event numbered looked.
	evKey  eventKey
	looked uint64
	found  kept
	ok     bool

	// v1Preds and v1Queue gather, during Restore of a version 1 snapshot,
	// the predecessors each rule kept itself (loadedV1).
	v1Preds []timer
	v1Queue []expiry
}

// shareKey identifies what a sequence rule's predecessors are: by in its
// compiled form, which holds the values of the vars it reads.
func shareKey(r *Rule) uint64 {
	if r.matches(r.other) {
		return uint64(newHash().str("own").str(r.Name).u64(r.stateHash))
	}
	return uint64(newHash().str(r.other).str(r.by.prog.Node().String()).u64(uint64(r.within)).u64(uint64(r.prevFields)))
}

func newPredStore(r *Rule) *predStore {
	return &predStore{key: shareKey(r), within: int64(r.within), fields: r.prevFields,
		preds: predecessors{withData: r.prevFields != 0}}
}

// lookup returns the predecessor for k.
func (p *predStore) lookup(e *Engine, k uint64) (kept, bool) {
	if p.looked != e.stats.Events || p.evKey.kh != k {
		p.looked = e.stats.Events
		p.found, p.ok = p.preds.get(k)
	}
	return p.found, p.ok
}

// store keeps ev as the latest predecessor for k, once per event however
// many rules share the store.
func (p *predStore) store(e *Engine, k uint64, ev *Event) {
	if p.last == e.stats.Events {
		return
	}
	p.last = e.stats.Events
	p.looked = 0
	at := e.now + p.within
	p.preds.store(k, at, ev, p.fields)
	p.queue.push(expiry{k, at})
	e.wakeAt(at)
}

// expire forgets the predecessors older than within; each rule sharing
// the store calls it, and the calls after the first find nothing due.
func (p *predStore) expire(now int64) {
	for {
		x, ok := p.queue.due(now)
		if !ok {
			return
		}
		if at, ok := p.preds.expiry(x.key); ok && at == x.at {
			p.preds.delete(x.key)
		}
		p.preds.data.free(now)
	}
}

// predecessors maps keys to their latest predecessor. Most rules read no
// prev field: a predecessor then costs its key and expiry alone (at). The
// rules that read some keep, in the same slot (full), where the packed
// fields lie in blocks of bytes (data): storing or finding a predecessor
// touches one place in memory, and neither the table nor the blocks hold
// pointers for the garbage collector to scan.
type predecessors struct {
	withData bool // the rules read prev fields: full is used, else at
	at       table[int64]
	full     table[predRef]
	data     byteBlocks
}

// predRef is a predecessor's expiry and where its packed fields are.
type predRef struct {
	at   int64
	data blockRef
}

func (p *predecessors) get(k uint64) (kept, bool) {
	if !p.withData {
		at, ok := p.at.get(k)
		return kept{at: at}, ok
	}
	v, ok := p.full.get(k)
	if !ok {
		return kept{}, false
	}
	return kept{at: v.at, data: p.data.string(v.data)}, true
}

// set keeps v for k (a snapshot's predecessor): its packed fields go into
// the blocks; without prev fields they are dropped.
func (p *predecessors) set(k uint64, v kept) {
	if !p.withData {
		p.at.set(k, v.at)
		return
	}
	p.full.set(k, predRef{at: v.at, data: p.data.add(v.data, v.at)})
}

// store keeps ev, expiring at at, packing fields fs.
func (p *predecessors) store(k uint64, at int64, ev *Event, fs fieldSet) {
	if !p.withData {
		p.at.set(k, at)
		return
	}
	p.full.set(k, predRef{at: at, data: p.data.pack(ev, fs, at)})
}

// expiry returns when k's predecessor expires.
func (p *predecessors) expiry(k uint64) (int64, bool) {
	if !p.withData {
		return p.at.get(k)
	}
	v, ok := p.full.get(k)
	return v.at, ok
}

func (p *predecessors) delete(k uint64) {
	if p.withData {
		p.full.delete(k)
	} else {
		p.at.delete(k)
	}
}

// sorted returns the predecessors in key order (snapshots).
func (p *predecessors) sorted() []timer {
	if p.withData {
		all := p.full.sorted()
		out := make([]timer, len(all))
		for i, s := range all {
			out[i] = timer{key: s.k, kept: kept{at: s.v.at, data: p.data.string(s.v.data)}}
		}
		return out
	}
	all := p.at.sorted()
	out := make([]timer, len(all))
	for i, s := range all {
		out[i] = timer{key: s.k, kept: kept{at: s.v}}
	}
	return out
}

// byteBlocks keeps packed events in blocks of bytes, each dropped once
// every entry written to it has expired (free). A block is never written
// again where it was written: a string read from it stays valid.
type byteBlocks struct {
	blocks []*byteBlock
	first  uint32 // the number of blocks[0]
}

type byteBlock struct {
	b      []byte
	expiry int64 // the latest expiry of an entry in the block
}

// blockRef is where an entry's bytes are: a block's number, the offset and
// the length.
type blockRef struct {
	block, off, len uint32
}

// byteBlockSize is the size of a block; an entry larger than it has one of
// its own. packedGuess is the room pack wants left in a block.
const (
	byteBlockSize = 64 << 10
	packedGuess   = 256
)

// block returns the block to append n bytes to, expiring at at.
func (bb *byteBlocks) block(n int, at int64) *byteBlock {
	if last := len(bb.blocks) - 1; last >= 0 {
		if b := bb.blocks[last]; cap(b.b)-len(b.b) >= n {
			b.expiry = max(b.expiry, at)
			return b
		}
	}
	b := &byteBlock{b: make([]byte, 0, max(byteBlockSize, n)), expiry: at}
	bb.blocks = append(bb.blocks, b)
	return b
}

// ref returns the reference of the bytes from off to the end of the last
// block.
func (bb *byteBlocks) ref(off int) blockRef {
	last := len(bb.blocks) - 1
	return blockRef{block: bb.first + uint32(last), off: uint32(off), len: uint32(len(bb.blocks[last].b) - off)}
}

// add appends data, which expires at at.
func (bb *byteBlocks) add(data string, at int64) blockRef {
	b := bb.block(len(data), at)
	off := len(b.b)
	b.b = append(b.b, data...)
	return bb.ref(off)
}

// pack appends ev's fields fs, packed, which expire at at. Packed fields
// are usually short; longer ones than packedGuess left in the block make
// the block's bytes move, which the strings already read from it survive.
func (bb *byteBlocks) pack(ev *Event, fs fieldSet, at int64) blockRef {
	b := bb.block(packedGuess, at)
	off := len(b.b)
	b.b = appendPacked(b.b, ev, fs)
	return bb.ref(off)
}

// string returns the bytes of r.
func (bb *byteBlocks) string(r blockRef) string {
	if r.len == 0 {
		return ""
	}
	b := bb.blocks[r.block-bb.first].b
	return unsafe.String(&b[r.off], int(r.len))
}

// free drops the blocks whose entries have all expired at now, keeping the
// last, which is being written.
func (bb *byteBlocks) free(now int64) {
	n := 0
	for n < len(bb.blocks)-1 && bb.blocks[n].expiry <= now {
		bb.blocks[n] = nil
		n++
	}
	bb.blocks = bb.blocks[n:]
	bb.first += uint32(n)
}
