package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestTableMatchesMap runs random operations on a table and a Go map side
// by side. The keys come from small ranges, so slots collide, runs wrap
// around the end of the slice and deletions shift entries back through
// them; the key 0 is among them.
func TestTableMatchesMap(t *testing.T) {
	for _, keySpace := range []uint64{4, 64, 5000} {
		rng := rand.New(rand.NewPCG(keySpace, 7))
		var tab table[int64]
		ref := map[uint64]int64{}
		key := func() uint64 {
			k := rng.Uint64N(keySpace)
			if k%2 == 1 {
				return k << 56 // keys that differ in their high bits only
			}
			return k
		}
		for op := range 200_000 {
			k := key()
			switch rng.IntN(4) {
			case 0:
				tab.set(k, int64(op))
				ref[k] = int64(op)
			case 1:
				_, want := ref[k]
				if got := tab.add(k, int64(op)); got != want {
					t.Fatalf("op %d: add(%d) present = %v, want %v", op, k, got, want)
				}
				if !want {
					ref[k] = int64(op)
				}
			case 2:
				_, want := ref[k]
				if got := tab.delete(k); got != want {
					t.Fatalf("op %d: delete(%d) = %v, want %v", op, k, got, want)
				}
				delete(ref, k)
			default:
				want, wantOK := ref[k]
				if got, ok := tab.get(k); got != want || ok != wantOK {
					t.Fatalf("op %d: get(%d) = %d, %v, want %d, %v", op, k, got, ok, want, wantOK)
				}
			}
			if tab.len() != len(ref) {
				t.Fatalf("op %d: len %d, want %d", op, tab.len(), len(ref))
			}
		}
		keys := make([]uint64, 0, len(ref))
		for k, v := range ref {
			keys = append(keys, k)
			if got, ok := tab.get(k); !ok || got != v {
				t.Fatalf("final get(%d) = %d, %v, want %d", k, got, ok, v)
			}
		}
		slices.Sort(keys)
		sorted := tab.sorted()
		if len(sorted) != len(keys) {
			t.Fatalf("sorted holds %d keys, want %d", len(sorted), len(keys))
		}
		for i, s := range sorted {
			if s.k != keys[i] || s.v != ref[s.k] {
				t.Fatalf("sorted[%d] = %d: %d, want %d: %d", i, s.k, s.v, keys[i], ref[keys[i]])
			}
		}
	}
}

// TestTableSetSlot checks that a set's slot is one key wide.
func TestTableSetSlot(t *testing.T) {
	if size := unsafe.Sizeof(slot[struct{}]{}); size != 8 {
		t.Fatalf("a set slot takes %d bytes, want 8", size)
	}
}
