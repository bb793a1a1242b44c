package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/webhook"
)

// Version 1 bodies are one object each; Version 2 bodies are arrays of the
// events due within one window, of mixed types and not sorted, due at the
// window's end. Together they hold every event once.
func TestBodies(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients = 2000
	want := len(all(t, cfg))
	for _, s := range []Schedule{
		{Version: 1, Speed: 1440},
		{Version: 2, Speed: 1440},
		{Version: 2, Rate: 500, Window: 100 * time.Millisecond},
	} {
		g, _ := NewGenerator(cfg)
		bs := NewBodies(g, s)
		events, mixed, unsorted := 0, false, false
		var lastDue time.Duration
		for b, ok := bs.Next(); ok; b, ok = bs.Next() {
			if b.Due < lastDue {
				t.Fatalf("%+v: body due at %s after one due at %s", s, b.Due, lastDue)
			}
			lastDue = b.Due
			decoded, err := webhook.Decode(b.JSON, received)
			if err != nil || len(decoded) != len(b.Events) {
				t.Fatalf("%+v: Decode: %d events, %v; want %d", s, len(decoded), err, len(b.Events))
			}
			if isArray := b.JSON[0] == '['; isArray != (s.Version == 2) {
				t.Fatalf("%+v: body starts with %q", s, b.JSON[0])
			}
			types := map[string]bool{}
			for i, e := range decoded {
				types[e.Type] = true
				if i > 0 && e.Time < decoded[i-1].Time {
					unsorted = true
				}
			}
			mixed = mixed || len(types) > 1
			events += len(decoded)
		}
		if events != want {
			t.Errorf("%+v: %d events in the bodies, want %d", s, events, want)
		}
		if s.Version == 2 && (!mixed || !unsorted) {
			t.Errorf("%+v: no body of mixed types (%v) or unsorted (%v)", s, mixed, unsorted)
		}
		// The schedule: compressed simulated time, or events spaced by the rate.
		wantLast := time.Duration(float64(want-1) / s.Rate * float64(time.Second))
		if s.Rate == 0 {
			wantLast = 24 * time.Hour / 1440
		}
		if lastDue > wantLast+time.Second || lastDue < wantLast/2 {
			t.Errorf("%+v: last body due at %s, want about %s", s, lastDue, wantLast)
		}
	}
}

// A Version 2 body holds at most MaxBatch events.
func TestBodiesMaxBatch(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEvents = 500
	g, _ := NewGenerator(cfg)
	bs := NewBodies(g, Schedule{Version: 2, Rate: 1e6, MaxBatch: 100})
	var sizes []int
	for b, ok := bs.Next(); ok; b, ok = bs.Next() {
		sizes = append(sizes, len(b.Events))
	}
	if !slices.Equal(sizes, []int{100, 100, 100, 100, 100}) {
		t.Errorf("body sizes %v", sizes)
	}
}
