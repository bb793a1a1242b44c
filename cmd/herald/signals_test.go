package main

import (
	"testing"
	"time"

	"github.com/heraldmail/herald/internal/testutil"
)

// This file has the signals the tests wait on: fired by Main's test hooks
// (engineHooks), so that a test waits for the engine, the lease or a
// reload to move instead of polling.

// waitLimit bounds a wait on one daemon: it fails a broken test, and is
// generous for a loaded machine, since a wait ends when its condition
// holds.
const waitLimit = 30 * time.Second

// signals are fired by a daemon's engine hooks. The replicas of a
// cluster share theirs: a wait on the cluster wakes whichever moved.
type signals struct {
	processed testutil.Signal // the engine processed a log record
	lease     testutil.Signal // the lease's value was seen to change
	reloaded  testutil.Signal // a reload on SIGHUP or a file change ended
}

// hooks returns h with hooks that fire s added after h's own.
func (s *signals) hooks(h engineHooks) engineHooks {
	processed, leaseChanged, reloaded := h.processed, h.leaseChanged, h.reloaded
	h.processed = func(seq uint64) {
		if processed != nil {
			processed(seq)
		}
		s.processed.Fire()
	}
	h.leaseChanged = func() {
		leaseChanged.call()
		s.lease.Fire()
	}
	h.reloaded = func() {
		reloaded.call()
		s.reloaded.Fire()
	}
	return h
}

// waitUntil waits until cond holds, checking it again each time sig
// fires; it fails the test after waitLimit.
func waitUntil(t *testing.T, what string, sig *testutil.Signal, cond func() bool) {
	t.Helper()
	testutil.WaitUntil(t, waitLimit, what, sig, cond)
}
