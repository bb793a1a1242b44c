// Package httpcall runs `http` actions: one HTTP request to a path under the
// connection's base_url, e.g. a CRM's "unsubscribe this contact" endpoint.
//
// The connection owns the host, the credentials and every header it sets; a
// rule gives only the method, a path below base_url (no "..", no scheme, no
// host, no "//"), a query, a JSON or form body and non-secret headers. A
// rule can never send a request to another host, and redirects are not
// followed (a 3xx is a permanent failure) so a receiver cannot send it
// elsewhere either.
//
// Every request carries the firing id as `Idempotency-Key: <id>`: a firing
// is delivered at least once, so the same key may arrive more than once and
// the receiver should treat repeats as one.
//
// # Signature
//
// When the connection has a signing secret, each request also carries
//
//	X-Herald-Timestamp: <unix seconds>
//	X-Herald-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// where body is the exact request body (empty for none). To verify, a
// receiver recomputes the HMAC over the timestamp header, a ".", and the raw
// body it received, compares it with the hex after "v1=" in constant time,
// and rejects timestamps more than a few minutes from its clock to limit
// replays. The signature covers the body and the timestamp only, not the
// method, path, query or Idempotency-Key. "v1=" names the scheme so that
// another can be added later.
//
// Outcomes are classified by actions.FromResponse: 2xx success; 408, 429 and
// 5xx retryable (honouring Retry-After); other statuses permanent; network
// errors and timeouts retryable.
package httpcall
