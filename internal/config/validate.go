package config

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Validate checks c and returns every problem (errors.Join of *Error).
// Load already validated; call it again after changing fields, e.g. with
// Override.
func (c *Config) Validate() error { return c.validate().join() }

// checker accumulates validation errors positioned through c.pos.
type checker struct {
	c    *Config
	errs errorList
}

// fail records a problem with key, positioned at the key or, when the key
// is not in the file, at its nearest ancestor that is.
func (k *checker) fail(key, msg string) {
	e := &Error{Key: key, Msg: msg}
	if flag, ok := k.c.flags[key]; ok {
		e.Key = flag
		k.errs = append(k.errs, e)
		return
	}
	e.File = k.c.file
	for at := key; at != ""; at = parentKey(at) {
		if p, ok := k.c.pos[at]; ok {
			e.Line, e.Col = p.line, p.col
			break
		}
	}
	k.errs = append(k.errs, e)
}

func parentKey(key string) string {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return ""
	}
	return key[:i]
}

func (c *Config) validate() errorList {
	k := &checker{c: c}
	k.listen("listen", c.Listen, true)
	if c.Data == "" {
		k.fail("data", "must not be empty")
	}
	k.natsURLs(c.NATS)
	k.oneOf("logging.level", c.Logging.Level, "debug", "info", "warn", "error")
	k.oneOf("logging.format", c.Logging.Format, "text", "json")
	k.webhook(&c.Webhook)
	if c.TLS != nil && (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		k.fail("tls", "cert_file and key_file must be set together")
	}
	k.logStream(&c.Log)
	k.listen("embedded.listen", c.Embedded.Listen, false)
	k.timeouts(&c.HTTP)
	if l := c.Cluster.Lease.D(); l < MinLease || l > MaxLease {
		k.fail("cluster.lease", "must be between 2s and 5m")
	}
	for name, conn := range c.Connections {
		k.connection(name, conn)
	}
	return k.errs
}

// listen checks a host:port listen address.
func (k *checker) listen(key, addr string, required bool) {
	if addr == "" && !required {
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		k.fail(key, "must be host:port, e.g. \":8080\" or \"127.0.0.1:8080\"")
	}
}

func (k *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	k.fail(key, strconv.Quote(v)+" is not one of "+strings.Join(allowed, ", "))
}

// natsURLs checks the external cluster URLs without echoing them: they
// may carry credentials.
func (k *checker) natsURLs(s string) {
	for i, raw := range splitList(s) {
		u, err := url.Parse(raw)
		ok := err == nil && u.Host != "" && (u.Scheme == "nats" || u.Scheme == "tls" || u.Scheme == "ws" || u.Scheme == "wss")
		if !ok {
			k.fail("nats", "URL "+strconv.Itoa(i+1)+" is not a nats://, tls://, ws:// or wss:// URL with a host")
		}
	}
}

func (k *checker) webhook(w *Webhook) {
	if !strings.HasPrefix(w.Path, "/") || strings.ContainsAny(w.Path, " \t?#") {
		k.fail("webhook.path", "must be a URL path starting with /")
	}
	if a := w.BasicAuth; a != nil {
		if a.Username == "" {
			k.fail("webhook.basic_auth.username", "must not be empty")
		}
		if a.Password == "" {
			k.fail("webhook.basic_auth.password", "must not be empty (is its environment variable set?)")
		}
	}
	k.positive("webhook.max_body", int64(w.MaxBody))
	if w.MaxBody > MaxBodyLimit {
		k.fail("webhook.max_body", "must be at most "+MaxBodyLimit.String()+" (a body is one NATS message)")
	}
	k.positive("webhook.max_concurrent", int64(w.MaxConcurrent))
	k.positive("webhook.dedup_horizon", int64(w.DedupHorizon))
}

func (k *checker) logStream(l *LogStream) {
	k.positive("log.max_bytes", int64(l.MaxBytes))
	k.positive("log.sync_interval", int64(l.SyncInterval))
	if l.Replicas < 0 || l.Replicas > 5 {
		k.fail("log.replicas", "must be between 0 (auto) and 5")
	}
}

func (k *checker) timeouts(t *HTTPTimeouts) {
	k.positive("http.read_header_timeout", int64(t.ReadHeaderTimeout))
	k.positive("http.read_timeout", int64(t.ReadTimeout))
	k.positive("http.write_timeout", int64(t.WriteTimeout))
	k.positive("http.idle_timeout", int64(t.IdleTimeout))
	k.positive("http.shutdown_timeout", int64(t.ShutdownTimeout))
}

func (k *checker) positive(key string, v int64) {
	if v <= 0 {
		k.fail(key, "must be positive")
	}
}

// httpURL checks an absolute http(s) URL. The message never contains the
// URL: Slack webhook URLs are secrets, others may carry credentials.
// Credentials in the URL itself (user:password@) are refused so that
// non-secret URL fields can be logged; they belong in secret fields.
func (k *checker) httpURL(key, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		k.fail(key, "must be an absolute http:// or https:// URL")
	case u.User != nil:
		k.fail(key, "must not contain credentials (user:password@); use the connection's secret fields or headers")
	}
}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
