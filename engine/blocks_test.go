package engine

import (
	"fmt"
	"strings"
	"testing"
)

// Entries stay readable until they expire, whatever the blocks' growth
// (an entry longer than the room left), and blocks whose entries have all
// expired are dropped.
func TestByteBlocks(t *testing.T) {
	var bb byteBlocks
	type entry struct {
		ref  blockRef
		at   int64
		text string
	}
	var all []entry
	for i := range 20000 {
		text := fmt.Sprintf("entry %d", i)
		if i%1000 == 7 {
			text += strings.Repeat("x", byteBlockSize/3) // more than packedGuess
		}
		at := int64(i)
		all = append(all, entry{bb.add(text, at), at, text})
	}
	read := bb.string(all[5].ref) // a string read before its block moves or goes
	if len(bb.blocks) < 2 {
		t.Fatalf("%d blocks: want several", len(bb.blocks))
	}
	bb.free(9999)
	for _, e := range all {
		if e.at > 9999 {
			if got := bb.string(e.ref); got != e.text {
				t.Fatalf("entry expiring at %d reads %.20q, want %.20q", e.at, got, e.text)
			}
		}
	}
	if first := bb.blocks[0]; first.expiry <= 9999 {
		t.Errorf("the first block left expires at %d: it should have been dropped", first.expiry)
	}
	if read != all[5].text {
		t.Errorf("a string read earlier changed: %q", read)
	}
	bb.free(1 << 40)
	if len(bb.blocks) != 1 {
		t.Errorf("%d blocks after everything expired, want the last one alone", len(bb.blocks))
	}
}
