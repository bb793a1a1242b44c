package engine

import (
	"fmt"
	"testing"
)

// TestTimerQueue pushes timers over several blocks, pops some, copies the
// rest through live and pushPacked (as a snapshot does) and checks that
// both queues give back every timer, in order, with its packed event.
func TestTimerQueue(t *testing.T) {
	const n = 3*fifoBlock + 123
	fs := fieldSet(1<<fieldIndex["email"] | 1<<fieldIndex["MessageID"])
	var q timerQueue
	for i := range n {
		ev := Event{MessageID: int64(i), Email: fmt.Sprintf("user%d@x.test", i%(i%7+1))}
		q.push(uint64(i+1), int64(i/3), &ev, fs)
	}
	check := func(name string, q *timerQueue, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			x, data, ok := q.due(int64(i / 3))
			if !ok || x.key != uint64(i+1) || x.at != int64(i/3) {
				t.Fatalf("%s: timer %d: got %+v, %v", name, i, x, ok)
			}
			var ev Event
			unpack(string(data), fs, &ev)
			if want := fmt.Sprintf("user%d@x.test", i%(i%7+1)); ev.Email != want || ev.MessageID != int64(i) {
				t.Fatalf("%s: timer %d holds %q %d, want %q %d", name, i, ev.Email, ev.MessageID, want, i)
			}
		}
	}
	check("first", &q, 0, fifoBlock+10)
	if _, _, ok := q.due(int64(fifoBlock+10)/3 - 1); ok {
		t.Fatal("a timer ended before its time")
	}
	var copied timerQueue
	for _, x := range q.live() {
		copied.pushPacked(x)
	}
	check("copy", &copied, fifoBlock+10, n)
	check("rest", &q, fifoBlock+10, n)
	if _, _, ok := q.due(1 << 62); ok || q.n != 0 {
		t.Fatalf("the queue is not empty: %d left", q.n)
	}
	// An emptied queue takes timers again.
	ev := Event{Email: "again@x.test"}
	q.push(7, 5, &ev, fs)
	check2, data, ok := q.due(5)
	var got Event
	unpack(string(data), fs, &got)
	if !ok || check2.key != 7 || got.Email != "again@x.test" {
		t.Fatalf("after emptying: %+v %q %v", check2, got.Email, ok)
	}
}
