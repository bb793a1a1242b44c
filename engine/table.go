package engine

import (
	"cmp"
	"slices"
)

// table maps uint64 keys to values. It holds the engine's large state: the
// dedup set, predecessors and absence timers keep up to millions of keys,
// most lookups miss the CPU cache, and with a Go map an event spent most
// of its time there (two probes, seen then insert, and several cache lines
// per probe). table is open addressing with linear probing over one slice
// of slots, so a lookup or an insert usually touches one cache line, and a
// miss ends at the first empty slot nearby. Deleting shifts the following
// slots back rather than leaving tombstones, so a table that has seen
// billions of keys probes as well as a new one.
//
// The keys are hashes already; the slot comes from the high bits of a
// multiplication (Fibonacci hashing) so that keys differing in few bits
// spread out. Key 0 marks an empty slot, so the key 0 itself is kept aside.
// Like a Go map, a table does not shrink.
type table[V any] struct {
	slots []slot[V]
	shift uint // 64 − log2(len(slots))
	n     int  // keys in slots
	zero  bool // whether the key 0 is present
	zeroV V
}

// slot puts the value first: a set's slot (V = struct{}) is then 8 bytes,
// where a trailing zero-size field would be padded to 16.
type slot[V any] struct {
	v V
	k uint64
}

const fibonacci = 0x9E3779B97F4A7C15

func (t *table[V]) home(k uint64) uint64 { return (k * fibonacci) >> t.shift }

func (t *table[V]) mask() uint64 { return uint64(len(t.slots) - 1) }

// len returns the number of keys.
func (t *table[V]) len() int {
	if t.zero {
		return t.n + 1
	}
	return t.n
}

// get returns k's value.
func (t *table[V]) get(k uint64) (V, bool) {
	if k == 0 {
		return t.zeroV, t.zero
	}
	if t.n > 0 {
		mask := t.mask()
		for i := t.home(k); ; i = (i + 1) & mask {
			s := &t.slots[i]
			if s.k == k {
				return s.v, true
			}
			if s.k == 0 {
				break
			}
		}
	}
	var none V
	return none, false
}

// set stores v for k, replacing the value k had.
func (t *table[V]) set(k uint64, v V) {
	p, _ := t.ref(k)
	*p = v
}

// add stores v for k unless k is present, and reports whether it was: one
// probe for "seen before?" and "remember it".
func (t *table[V]) add(k uint64, v V) (present bool) {
	p, present := t.ref(k)
	if !present {
		*p = v
	}
	return present
}

// ref returns where k's value is, inserting k with the zero value when it
// is missing, and whether k was present. The pointer is valid until the
// next insert.
func (t *table[V]) ref(k uint64) (*V, bool) {
	if k == 0 {
		present := t.zero
		t.zero = true
		return &t.zeroV, present
	}
	if (t.n+1)*4 > len(t.slots)*3 { // keep the load under 3/4
		t.grow()
	}
	mask := t.mask()
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.k == k {
			return &s.v, true
		}
		if s.k == 0 {
			s.k = k
			t.n++
			return &s.v, false
		}
	}
}

func (t *table[V]) grow() {
	size := 2 * len(t.slots)
	if size < 8 {
		size = 8
	}
	old := t.slots
	t.slots = make([]slot[V], size)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	mask := t.mask()
	for _, s := range old {
		if s.k == 0 {
			continue
		}
		i := t.home(s.k)
		for t.slots[i].k != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// delete removes k and reports whether it was present.
func (t *table[V]) delete(k uint64) bool {
	var none V
	if k == 0 {
		was := t.zero
		t.zero, t.zeroV = false, none
		return was
	}
	if t.n == 0 {
		return false
	}
	mask := t.mask()
	i := t.home(k)
	for t.slots[i].k != k {
		if t.slots[i].k == 0 {
			return false
		}
		i = (i + 1) & mask
	}
	// Shift back each following slot of the run that may move into the
	// hole: one whose home is not between the hole and itself.
	for j := (i + 1) & mask; t.slots[j].k != 0; j = (j + 1) & mask {
		if (j-t.home(t.slots[j].k))&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot[V]{v: none}
	t.n--
	return true
}

// sorted returns the keys and their values in key order, so snapshots
// are deterministic: one pass over the slots, no look-up per key.
func (t *table[V]) sorted() []slot[V] {
	out := make([]slot[V], 0, t.len())
	if t.zero {
		out = append(out, slot[V]{v: t.zeroV})
	}
	for _, s := range t.slots {
		if s.k != 0 {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b slot[V]) int { return cmp.Compare(a.k, b.k) })
	return out
}
