// Package sim simulates Mailjet for demos and load tests.
//
// A Generator plays campaigns: each sends one message to every recipient
// of a list (addresses over domains with a Zipf skew, as real lists are),
// and each message then becomes what Mailjet would report: blocked (more
// often on the domains Config.BlockDomains names), bounced (soft or hard)
// or sent, and after a sent, with the configured probabilities and
// log-normal delays, opens, clicks, unsubscribes and spam complaints; a
// few events are re-sent later as Mailjet sometimes does. Events come out
// in simulated-time order with Mailjet's fields (ids above 2^53), and the
// same Config (Seed included) always gives the same events.
//
// Bodies groups events into webhook bodies, Version 1 (one event) or
// Version 2 (the events of one batch window, shuffled), each with the time
// it is due; Post sends them to a webhook at a rate, or following the
// simulated clock compressed by a speed factor, and reports the achieved
// rate and latencies. Sinks is the other side: fake Slack, Mailjet Send
// and CRM endpoints that accept herald's actions, print them and inject
// failures.
package sim
