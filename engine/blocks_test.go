package engine

import (
	"fmt"
	"strings"
	"testing"
)

// Entries stay readable until they expire, whatever the blocks' growth,
// and blocks whose entries have all expired are dropped. Twice, when a
// block has just the room pack asks for (packedGuess) left, the next
// packed event is longer, so the block's bytes move while strings read
// from it are held.
func TestByteBlocks(t *testing.T) {
	var bb byteBlocks
	type entry struct {
		ref  blockRef
		at   int64
		text string
	}
	fs := fieldSet(1) << fieldIndex["email"]
	var all []entry
	var read []string // strings read as the blocks grew
	moved := 0
	for i := range 20000 {
		text := fmt.Sprintf("user%d@x.test", i)
		if n := len(bb.blocks); n > 0 {
			if room := cap(bb.blocks[n-1].b) - len(bb.blocks[n-1].b); moved < 2 && room >= packedGuess && room < 2*packedGuess {
				text += strings.Repeat("x", 3*packedGuess) // more than the room left
				moved++
			}
		}
		at := int64(i)
		ref := bb.pack(&Event{Email: text}, fs, at)
		all = append(all, entry{ref, at, text})
		read = append(read, bb.string(ref))
	}
	if len(bb.blocks) < 2 || moved == 0 {
		t.Fatalf("%d blocks, %d moved: want several of each", len(bb.blocks), moved)
	}
	unpackEmail := func(data string) string {
		var ev Event
		unpack(data, fs, &ev)
		return ev.Email
	}
	for i, e := range all {
		if got := unpackEmail(read[i]); got != e.text {
			t.Fatalf("entry %d read when written now unpacks as %.20q, want %.20q", i, got, e.text)
		}
	}
	bb.free(9999)
	for _, e := range all {
		if e.at > 9999 {
			if got := unpackEmail(bb.string(e.ref)); got != e.text {
				t.Fatalf("entry expiring at %d unpacks as %.20q, want %.20q", e.at, got, e.text)
			}
		}
	}
	if first := bb.blocks[0]; first.expiry <= 9999 {
		t.Errorf("the first block left expires at %d: it should have been dropped", first.expiry)
	}
	bb.free(1 << 40)
	if len(bb.blocks) != 1 {
		t.Errorf("%d blocks after everything expired, want the last one alone", len(bb.blocks))
	}
}
