// Package mailjet runs `mailjet` actions: follow-up emails through Mailjet's
// Send API v3.1 (POST {base_url}/v3.1/send, basic auth with the API key and
// secret). It is a small client of its own because the official Go client
// drops the successful messages of a partly failed batch and misspells
// SandboxMode.
//
// An action is sent as one message per recipient, so that each gets its own
// personalised message, up to MaxBatch messages per call; each message
// carries CustomID (default: the firing id), which comes back in the events
// of that message. Mailjet has no idempotency key: CustomID is how a
// duplicate can be recognised afterwards, not prevented.
//
// Results are read message by message, whatever the HTTP status: Mailjet
// answers 400 to a batch in which some messages failed, and the others were
// sent. When some recipients got their message and others did not, Do
// returns an *actions.PartialError whose Failed params name only the failed
// recipients, so a retry never sends a message twice.
//
// Outcomes:
//
//	all messages "success"                    nil
//	some messages failed                      *actions.PartialError (Failed: those recipients)
//	per-message 4xx                           permanent
//	per-message 429 or 5xx                    retryable
//	HTTP 400 without per-message results      permanent (nothing is resent)
//	HTTP 401, 403 and other 4xx               permanent
//	HTTP 429 (HTML body, no Retry-After), 5xx retryable
//	network error, timeout                    retryable (the batch may have been sent: at least once)
//	HTTP 200 whose body cannot be read        success, logged as a warning
//
// A 200 means Mailjet accepted every message of the batch, so an unreadable
// body is counted as success: resending would mail every recipient twice.
//
// Template variables must not hold null (Mailjet answers 500), so a nil
// anywhere inside `variables` (an event field that was absent) is sent as
// the empty string.
package mailjet
