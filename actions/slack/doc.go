// Package slack runs `slack` actions with github.com/slack-go/slack: a
// message posted through an incoming webhook (the connection's webhook_url)
// or with a bot token through chat.postMessage (the connection's token and
// default channel; a rule may name another channel).
//
// The text and blocks arrive already rendered, and the template renderer
// has escaped what came from events (so an event cannot inject <!channel>,
// mentions or links); this package sends them as they are and does not
// escape again. Blocks are Block Kit JSON, decoded into slack.Blocks: block
// types slack-go does not know are passed through, but fields it does not
// know on a block it knows are dropped.
//
// Outcomes: a non-2xx answer is classified like any HTTP answer
// (actions.FromResponse: 408, 429 and 5xx retryable with Retry-After in
// seconds or as a date; other 4xx permanent, e.g. an incoming webhook's 404
// no_service or 410 channel_is_archived), with the start of Slack's answer
// in the message. A Web API error (HTTP 200, "ok": false) is permanent
// (channel_not_found, not_in_channel, invalid_auth, invalid_blocks, …)
// except ratelimited, internal_error, fatal_error, service_unavailable,
// request_timeout and team_added_to_org, which are retried. A 200 whose body
// is not Slack's JSON (a proxy's page) is permanent: the message was most
// likely not posted, and an operator should look. Network errors and
// timeouts are retried. Slack has no idempotency key: a retry after a lost
// answer can post a message twice.
//
// The webhook URL is a credential and so is the token: no error carries
// either (slack-go's errors name the URL; they are rewritten).
package slack
