package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Snapshot format: magic, version, the body, then a CRC-32 of everything
// before it. The body holds the clock, the counters, the dedup set and each
// rule's state under its name and stateHash, so a restore (possibly with
// reloaded rules) keeps the state of every unchanged rule.
const (
	snapshotMagic = "HERALDSN"
	// 2: predecessors in stores shared by rules, after the rules' sections.
	// 1 kept them in each sequence rule's section; Restore reads it too.
	snapshotVersion = 2
)

// ErrSnapshot is wrapped by Restore for a snapshot that is truncated,
// corrupt or of an unknown version.
var ErrSnapshot = errors.New("unreadable snapshot")

// Snapshot encodes the engine's whole state. Restoring it into an engine
// with the same rules, then feeding the log after the snapshot's position,
// gives the same firings as an engine that never stopped.
func (e *Engine) Snapshot() []byte {
	w := &writer{b: make([]byte, 0, 1<<16)}
	w.b = append(w.b, snapshotMagic...)
	w.u(snapshotVersion)
	w.i(e.now)
	w.u(e.stats.Events)
	w.u(e.stats.Duplicates)
	w.u(e.stats.SendTests)
	w.u(e.stats.Errors)
	w.expiries(e.dedup.queue.live())
	w.u(uint64(len(e.runners)))
	for _, run := range e.runners {
		r := run.rule()
		st := e.bases[r].st
		w.s(r.Name)
		w.u(r.stateHash)
		w.u(st.Matched)
		w.u(st.Fired)
		w.u(st.Suppressed)
		w.u(st.Errors)
		inner := &writer{}
		run.(stateful).save(inner)
		w.bytes(inner.b)
	}
	stores := e.predStores()
	w.u(uint64(len(stores)))
	for _, p := range stores {
		inner := &writer{}
		p.save(inner)
		w.bytes(inner.b)
	}
	return binary.BigEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b))
}

// Restore replaces the engine's state with a snapshot's. Rules whose name
// and stateful definition match the snapshot get their state back; others
// start empty. On error the engine is unchanged.
func (e *Engine) Restore(data []byte) error {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return fmt.Errorf("%w: not a herald snapshot", ErrSnapshot)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch (truncated or corrupt)", ErrSnapshot)
	}
	r := &reader{b: body[len(snapshotMagic):]}
	version := r.u()
	if version != snapshotVersion && version != 1 {
		return fmt.Errorf("%w: version %d, this herald reads 1 and %d", ErrSnapshot, version, snapshotVersion)
	}
	fresh := New(e.rules, e.opt)
	fresh.setNow(r.i())
	fresh.stats.Events, fresh.stats.Duplicates, fresh.stats.SendTests, fresh.stats.Errors = r.u(), r.u(), r.u(), r.u()
	for _, x := range r.expiries() {
		fresh.dedup.ids.set(x.key, struct{}{})
		fresh.dedup.queue.push(x)
	}
	n := r.u()
	for i := uint64(0); i < n && r.err == nil; i++ {
		name, hash := r.s(), r.u()
		st := RuleStats{Matched: r.u(), Fired: r.u(), Suppressed: r.u(), Errors: r.u()}
		inner := &reader{b: r.bytes(), version: version}
		run := fresh.byRule[name]
		if run == nil || run.rule().stateHash != hash {
			continue // removed or changed since: starts empty
		}
		fresh.bases[run.rule()].st = st
		run.(stateful).load(inner)
		if inner.err != nil {
			r.err = fmt.Errorf("rule %s: %w", name, inner.err)
		}
	}
	byKey := map[uint64]*predStore{}
	for _, p := range fresh.predStores() {
		byKey[p.key] = p
		p.loadedV1() // version 1: what the rules' sections held
	}
	n = 0
	if version > 1 {
		n = r.u()
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		inner := &reader{b: r.bytes()}
		if p := byKey[inner.u()]; p != nil {
			p.load(inner) // else no rule keeps these predecessors any more
		}
		if inner.err != nil {
			r.err = fmt.Errorf("predecessors: %w", inner.err)
		}
	}
	if r.err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, r.err)
	}
	*e = *fresh // the same rules and options, the restored state; e's scratch buffers go
	return nil
}

// stateful is implemented by every runner.
type stateful interface {
	save(w *writer)
	load(r *reader)
}

// writer appends varint-encoded values.
type writer struct{ b []byte }

func (w *writer) u(v uint64)     { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) i(v int64)      { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) f(v float64)    { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *writer) s(v string)     { w.u(uint64(len(v))); w.b = append(w.b, v...) }
func (w *writer) bytes(v []byte) { w.u(uint64(len(v))); w.b = append(w.b, v...) }
func (w *writer) bool(v bool)    { w.b = append(w.b, map[bool]byte{false: 0, true: 1}[v]) }
func (w *writer) ints(v []int64) {
	w.u(uint64(len(v)))
	for _, x := range v {
		w.i(x)
	}
}
func (w *writer) floats(v []float64) {
	w.u(uint64(len(v)))
	for _, x := range v {
		w.f(x)
	}
}

func (w *writer) expiries(v []expiry) {
	w.u(uint64(len(v)))
	for _, x := range v {
		w.u(x.key)
		w.i(x.at)
	}
}

func (w *writer) timers(v []timer) {
	w.u(uint64(len(v)))
	for _, x := range v {
		w.u(x.key)
		w.i(x.at)
		w.s(x.data)
	}
}

func (r *reader) timers() []timer {
	v := make([]timer, r.n())
	for i := range v {
		v[i] = timer{key: r.u(), kept: kept{at: r.i(), data: r.s()}}
	}
	return v
}

func (w *writer) stored(v []stored) {
	w.u(uint64(len(v)))
	for _, x := range v {
		w.u(x.key)
		w.i(x.at)
		w.u(x.id)
		w.s(x.data)
	}
}

// reader decodes what writer wrote; the first problem sticks in err and
// every later read returns zero values.
type reader struct {
	b       []byte
	err     error
	version uint64 // of the snapshot being read
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated at %s", what)
	}
	r.b = nil
}

func (r *reader) u() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) i() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) f() float64 {
	if len(r.b) < 8 {
		r.fail("float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// n reads a count, refusing one larger than the bytes left could hold.
func (r *reader) n() int {
	v := r.u()
	if v > uint64(len(r.b)) {
		r.fail("count")
		return 0
	}
	return int(v)
}

func (r *reader) bytes() []byte {
	n := r.n()
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) s() string { return string(r.bytes()) }

func (r *reader) bool() bool {
	if len(r.b) < 1 {
		r.fail("bool")
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *reader) ints() []int64 {
	v := make([]int64, r.n())
	for i := range v {
		v[i] = r.i()
	}
	return v
}

func (r *reader) floats() []float64 {
	v := make([]float64, r.n())
	for i := range v {
		v[i] = r.f()
	}
	return v
}

func (r *reader) expiries() []expiry {
	v := make([]expiry, r.n())
	for i := range v {
		v[i] = expiry{key: r.u(), at: r.i()}
	}
	return v
}

func (r *reader) stored() []stored {
	v := make([]stored, r.n())
	for i := range v {
		v[i] = stored{key: r.u(), at: r.i(), id: r.u(), data: r.s()}
	}
	return v
}

// sortedKeys64 returns a map's keys in order, so snapshots are
// deterministic.
func sortedKeys64[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
