package testutil

import (
	"sync"
	"testing"
	"time"
)

// Signal tells the goroutines waiting on it that something may have
// changed: the code under test fires it from a hook, and each Fire wakes
// every wait begun before it. The zero value is ready to use; a Signal
// must not be copied after first use.
type Signal struct {
	mu sync.Mutex
	c  chan struct{} // closed by the next Fire; nil when nobody waits
}

// Fire wakes the waits begun before it.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		close(s.c)
		s.c = nil
	}
}

// Wait returns a channel closed at the next Fire.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		s.c = make(chan struct{})
	}
	return s.c
}

// WaitUntil returns once cond holds. It checks cond at once and again
// each time s fires, never on a timer, and fails the test if cond still
// does not hold after timeout (a bound for a broken test, not a pace).
func WaitUntil(t testing.TB, timeout time.Duration, what string, s *Signal, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		next := s.Wait() // before cond: a Fire while cond runs is not missed
		if cond() {
			return
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// Relay fires s for each value received from c, until c is closed or the
// test ends: it turns a channel of the code under test (a watch's
// updates, a connection's status changes) into a Signal.
func Relay[T any](t testing.TB, s *Signal, c <-chan T) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case _, ok := <-c:
				if !ok {
					return
				}
				s.Fire()
			}
		}
	})
	t.Cleanup(func() {
		close(done)
		wg.Wait()
	})
}
