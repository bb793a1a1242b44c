// Package pipeline runs the rules engine over the event log: it reads the
// log in order, decodes each webhook body, feeds events and clock ticks to
// the deterministic engine, and queues the firings it returns as jobs on
// the action stream, one per action, each with an id derived from the
// firing so the queue can drop what it already has.
//
// The stages, each in its own file: ticker.go appends clock ticks to the
// log; engine.go (Runner) consumes the log; jobs.go defines the queued job
// and writes and reads it.
package pipeline
