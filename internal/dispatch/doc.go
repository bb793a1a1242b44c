// Package dispatch runs the actions the engine queues: it consumes the
// stream HERALD_ACTIONS with one durable pull consumer shared by every
// replica (so each job is worked once), runs each job's action through its
// connection, retries failures with exponential back-off and full jitter
// (honouring Retry-After), and moves jobs that fail for good to dead
// letters, where an operator can retry or drop them.
//
// A job goes through these steps (deliver.go), and its delivery status is
// kept in the KV bucket herald_status under the job id:
//
//	shadow firing                             status shadow, nothing runs
//	no action (a firing recorded only)        acknowledged, no status
//	connection neither configured nor dry     dead letter (permanent)
//	mailjet, not ignore_suppression           suppressed recipients dropped from `to`;
//	                                          none left: status suppressed
//	dry connection                            one "dry-run" log line, status dry-run
//	run, success                              status sent
//	run, retryable failure                    status retrying, redelivered after the back-off
//	run, permanent failure, or attempts/age   dead letter, status dead
//	exhausted
//
// One function, classify (outcome.go), judges an attempt's error with
// actions.Retryable. When an attempt delivers part of a Mailjet action
// (*actions.PartialError), only the failed recipients are tried again: the
// narrowed params are kept with the status (Status.Remaining) and used by
// the next attempt, and a dead letter carries them too, so a recipient who
// got the message never gets it twice.
//
// Delivery is at least once. Each action gets its job id ("<firing id>/<i>")
// as the idempotency hint (HTTP Idempotency-Key, Mailjet CustomID by
// default): unique per action, so two actions of one firing are not taken
// for one. A job whose status is already final (sent, dead, …) is
// acknowledged without running again, which also covers copies queued after
// JetStream's duplicate window.
//
// Dead letters are kept in the stream HERALD_DEAD, one message per job
// (subject herald.dead.<key>). Retry queues the job again on HERALD_ACTIONS
// with a new message id ("<job id>#r<n>") and its delivery starts again at
// attempt 1; Drop removes it and records status dropped.
package dispatch
