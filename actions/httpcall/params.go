package httpcall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Keys are the params an `http` action accepts.
var Keys = []string{"method", "path", "query", "json", "form", "headers"}

var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// reserved headers may not be set by a rule: credentials, herald's own
// headers and the ones that frame the message.
var reserved = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Host",
	HeaderIdempotencyKey, HeaderTimestamp, HeaderSignature,
	"Content-Length", "Transfer-Encoding", "Connection", "Te", "Trailer", "Upgrade", "Keep-Alive",
}

// call is an `http` action with its params checked.
type call struct {
	method      string
	path        string // as the rule gave it, for messages
	url         *url.URL
	body        []byte // nil: no body
	contentType string
	headers     map[string]string
}

// Validate checks an `http` action's params as written in a rule, before
// templates are rendered: unknown keys, json together with form, and header
// names a rule may not set. Values are checked by Do once rendered.
func Validate(params map[string]any) error {
	for k := range params {
		if !slices.Contains(Keys, k) {
			return fmt.Errorf("unknown key %q (want one of %s)", k, strings.Join(Keys, ", "))
		}
	}
	if _, ok := params["json"]; ok {
		if _, ok := params["form"]; ok {
			return errors.New("json and form are exclusive")
		}
	}
	if hs, ok := params["headers"].(map[string]any); ok {
		for name := range hs {
			if slices.Contains(reserved, http.CanonicalHeaderKey(name)) {
				return fmt.Errorf("header %q may not be set by a rule", name)
			}
		}
	}
	return nil
}

// parse checks rendered params against the connection.
func (h *HTTPCall) parse(id string, params map[string]any) (*call, error) {
	if id == "" {
		return nil, errors.New("empty firing id: the Idempotency-Key would be empty")
	}
	if err := Validate(params); err != nil {
		return nil, err
	}
	c := &call{method: http.MethodPost}
	var err error
	if v, ok := params["method"]; ok {
		s, _ := v.(string)
		c.method = strings.ToUpper(s)
		if !slices.Contains(methods, c.method) {
			return nil, fmt.Errorf("method %v: want one of %s", v, strings.Join(methods, ", "))
		}
	}
	if v, ok := params["path"]; ok {
		if c.path, ok = v.(string); !ok {
			return nil, fmt.Errorf("path: want a string, got %T", v)
		}
	}
	if c.url, err = joinPath(h.base, c.path); err != nil {
		return nil, err
	}
	if err = addQuery(c.url, params["query"]); err != nil {
		return nil, err
	}
	if err = c.setBody(params); err != nil {
		return nil, err
	}
	if c.headers, err = h.ruleHeaders(params["headers"]); err != nil {
		return nil, err
	}
	return c, nil
}

// joinPath puts p under base's path. p is an escaped path (as urlquery
// renders it); anything that is not a plain relative path is refused, and
// the result is checked to keep base's scheme, host and path prefix.
func joinPath(base *url.URL, p string) (*url.URL, error) {
	if strings.HasPrefix(p, "//") || strings.ContainsAny(p, `\?#`) || strings.ContainsFunc(p, isControl) {
		return nil, fmt.Errorf("path %q: want a path under base_url (no //, \\, ?, # or control characters; use query for a query)", p)
	}
	rel, err := url.Parse(p)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", p, err)
	}
	if rel.Scheme != "" || rel.Host != "" || rel.User != nil || rel.Opaque != "" {
		return nil, fmt.Errorf("path %q: want a path under base_url, not a URL", p)
	}
	escaped := strings.TrimPrefix(rel.EscapedPath(), "/")
	segs := strings.Split(escaped, "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		if dec == "" && i < len(segs)-1 {
			return nil, fmt.Errorf("path %q: empty segment", p)
		}
		// An escaped "%2e%2e%2f" is ".." to many servers: look inside.
		for _, part := range strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == ".." || part == "." {
				return nil, fmt.Errorf("path %q: dot segments are not allowed", p)
			}
		}
	}
	u := *base
	prefix := strings.TrimSuffix(base.EscapedPath(), "/") + "/"
	if escaped != "" {
		raw := prefix + escaped
		if u.Path, err = url.PathUnescape(raw); err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		u.RawPath = raw
	}
	// Belt and braces: what goes on the wire must parse back to the same
	// scheme, host and path prefix.
	final, err := url.Parse(u.String())
	if err != nil || final.Scheme != base.Scheme || final.Host != base.Host ||
		(escaped != "" && !strings.HasPrefix(final.EscapedPath(), prefix)) {
		return nil, fmt.Errorf("path %q leaves base_url", p)
	}
	return &u, nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// addQuery adds the rule's query to the connection's. A rule may not
// replace a parameter of base_url (it may carry an API key).
func addQuery(u *url.URL, v any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("query: want a map, got %T", v)
	}
	q := u.Query()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if q.Has(k) {
			return fmt.Errorf("query %q is set by the connection", k)
		}
		vals, err := values(m[k])
		if err != nil {
			return fmt.Errorf("query %q: %w", k, err)
		}
		q[k] = vals
	}
	u.RawQuery = q.Encode()
	return nil
}

// setBody encodes `json` or `form`.
func (c *call) setBody(params map[string]any) error {
	if v, ok := params["json"]; ok {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("json: %w", err)
		}
		c.body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		c.contentType = "application/json"
		return nil
	}
	v, ok := params["form"]
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("form: want a map, got %T", v)
	}
	form := url.Values{}
	for k, fv := range m {
		vals, err := values(fv)
		if err != nil {
			return fmt.Errorf("form %q: %w", k, err)
		}
		form[k] = vals
	}
	c.body = []byte(form.Encode())
	c.contentType = "application/x-www-form-urlencoded"
	return nil
}

// ruleHeaders checks the rule's headers: valid, not reserved, not one the
// connection sets.
func (h *HTTPCall) ruleHeaders(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("headers: want a map, got %T", v)
	}
	out := make(map[string]string, len(m))
	for name, hv := range m {
		value, err := scalar(hv)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", name, err)
		}
		if err := checkHeader(name, value); err != nil {
			return nil, err
		}
		canon := http.CanonicalHeaderKey(name)
		if _, ok := h.headers[canon]; ok || slices.Contains(reserved, canon) {
			return nil, fmt.Errorf("header %q may not be set by a rule", name)
		}
		out[canon] = value
	}
	return out, nil
}

// values turns a scalar or a list of scalars into query/form values. A
// nil (an absent event field) is an empty string.
func values(v any) ([]string, error) {
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, e := range list {
			s, err := scalar(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(v)
	return []string{s}, err
}

// scalar formats a rendered value: strings as is, numbers without exponent
// or trailing zeros, booleans as true/false, nil as "".
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%v is not a number", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case json.Number:
		return x.String(), nil
	}
	return "", fmt.Errorf("want a string, number or boolean, got %T", v)
}
