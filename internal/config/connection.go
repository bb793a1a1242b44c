package config

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// connectionKeys lists the keys each connection type accepts.
var connectionKeys = map[string][]string{
	TypeSlack:   {"type", "webhook_url", "token", "channel", "api_url"},
	TypeMailjet: {"type", "api_key", "api_secret", "from", "base_url", "sandbox"},
	TypeHTTP:    {"type", "base_url", "headers", "signing_secret", "timeout"},
}

var connectionName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Configured reports whether c has what it needs to run actions for real.
// Actions of a connection that is not configured run dry: a slack
// connection without webhook_url or token, a mailjet one without its key
// pair, and any connection that references an unset environment variable.
func (c *Connection) Configured() bool {
	if c == nil || len(c.MissingEnv) > 0 {
		return false
	}
	switch c.Type {
	case TypeSlack:
		return c.WebhookURL != "" || c.Token != ""
	case TypeMailjet:
		return c.APIKey != "" && c.APISecret != ""
	case TypeHTTP:
		return c.BaseURL != ""
	}
	return false
}

// LogValue implements slog.LogValuer: the connection's type, whether it is
// configured, and its non-secret settings; secrets show as "[redacted]".
func (c Connection) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("type", c.Type), slog.Bool("configured", c.Configured())}
	add := func(k string, v any, set bool) {
		if set {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	add("webhook_url", c.WebhookURL, c.WebhookURL != "")
	add("token", c.Token, c.Token != "")
	add("channel", c.Channel, c.Channel != "")
	add("api_url", redactURL(c.APIURL), c.APIURL != "")
	add("api_key", c.APIKey, c.APIKey != "")
	add("api_secret", c.APISecret, c.APISecret != "")
	add("from", c.From.Email, c.From.Email != "")
	add("base_url", redactURL(c.BaseURL), c.BaseURL != "")
	add("headers", headerNames(c.Headers), len(c.Headers) > 0)
	add("signing_secret", c.SigningSecret, c.SigningSecret != "")
	add("missing_env", c.MissingEnv, len(c.MissingEnv) > 0)
	return slog.GroupValue(attrs...)
}

// Format implements fmt.Formatter: every verb prints the LogValue form,
// so that no verb (not even a wrong one, which makes fmt bypass the
// Secret fields' own methods) can print a secret.
func (c Connection) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, c.LogValue().String())
}

// Format implements fmt.Formatter like Connection.Format.
func (a BasicAuth) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "{username:%s password:%s}", a.Username, a.Password)
}

// connection validates one connection. Required credentials are not
// checked for a connection with missing environment variables: it runs
// dry, and Load warned about it.
func (k *checker) connection(name string, c *Connection) {
	key := "connections." + name
	if !connectionName.MatchString(name) {
		k.fail(key, "connection names are letters, digits, _ and -")
	}
	if c == nil {
		k.fail(key, "must be a mapping with a type")
		return
	}
	allowed, ok := connectionKeys[c.Type]
	if !ok {
		if c.Type == "" {
			k.fail(key+".type", "missing (slack, mailjet or http)")
		} else {
			k.fail(key+".type", "unknown connection type "+quoteSafe(c.Type)+" (want slack, mailjet or http)")
		}
		return
	}
	k.foreignKeys(key, c.Type, allowed)
	switch c.Type {
	case TypeSlack:
		k.slack(key, c)
	case TypeMailjet:
		k.mailjet(key, c)
	case TypeHTTP:
		k.httpConn(key, c)
	}
}

// foreignKeys rejects keys present in the file that belong to another type.
func (k *checker) foreignKeys(key, typ string, allowed []string) {
	prefix := key + "."
	for path := range k.c.pos {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok || strings.Contains(rest, ".") {
			continue
		}
		if !slices.Contains(allowed, rest) {
			k.fail(path, "not valid for a "+typ+" connection (valid: "+strings.Join(allowed[1:], ", ")+")")
		}
	}
}

func (k *checker) slack(key string, c *Connection) {
	if c.WebhookURL != "" && c.Token != "" {
		k.fail(key, "set webhook_url or token, not both")
	}
	if c.WebhookURL != "" {
		k.httpURL(key+".webhook_url", string(c.WebhookURL))
	}
	if c.APIURL != "" {
		k.httpURL(key+".api_url", c.APIURL)
	}
}

func (k *checker) mailjet(key string, c *Connection) {
	if len(c.MissingEnv) == 0 && (c.APIKey == "") != (c.APISecret == "") {
		k.fail(key, "api_key and api_secret must be set together")
	}
	k.httpURL(key+".base_url", c.BaseURL)
	if e := c.From.Email; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " <>\r\n")) {
		k.fail(key+".from.email", "not an email address")
	}
}

func (k *checker) httpConn(key string, c *Connection) {
	switch {
	case c.BaseURL != "":
		k.httpURL(key+".base_url", c.BaseURL)
	case len(c.MissingEnv) == 0:
		k.fail(key+".base_url", "missing: an http connection needs base_url")
	}
	for h, v := range c.Headers {
		if !headerName.MatchString(h) {
			k.fail(key+".headers."+h, "not a valid header name")
		}
		if strings.ContainsAny(string(v), "\r\n") {
			k.fail(key+".headers."+h, "header values must not contain line breaks")
		}
	}
	k.positive(key+".timeout", int64(c.Timeout))
}

// quoteSafe quotes a short non-secret value for a message.
func quoteSafe(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
