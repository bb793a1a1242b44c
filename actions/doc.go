// Package actions holds what every action kind shares: the classification of
// a delivery outcome. Each kind lives in its own subpackage (slack, mailjet,
// httpcall) with a New(cfg) constructor and one method,
// Do(ctx, id, params) error, where id is the firing id (the idempotency hint)
// and params are the action's keys rendered from the rule's templates.
//
// Do returns nil on success. Any other result is judged with Retryable: an
// *Error says whether a retry may succeed and when (RetryAfter, from a
// Retry-After header when the receiver gave one); network errors and
// timeouts are retryable; a cancellation of the caller's context is returned
// as is (errors.Is(err, context.Canceled)) and is neither retryable nor a
// delivery failure: the dispatcher should leave the firing to be delivered
// again. Everything else is permanent and belongs in dead letters.
//
// A *PartialError means part of the action was delivered (some recipients of
// a Mailjet action). Its Failed params describe only what was not delivered:
// the dispatcher must retry, or dead-letter, those params and not the
// original ones, or the delivered part is sent twice. That holds whatever
// the error inside says, a cancellation included: check for a
// *PartialError first and keep its Failed params for the next attempt.
//
// Errors returned by the action kinds never carry credentials: URLs are
// shortened with RedactURL and each kind scrubs its own secrets (webhook URL,
// tokens, API keys, signing secrets) with Redact, so err.Error() is safe to
// log, to store with a dead letter and to show in the admin API.
package actions
