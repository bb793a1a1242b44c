package config

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret is a string that must never be printed: passwords, tokens, API
// secrets, Slack webhook URLs, HTTP header values. fmt verbs, slog, JSON
// and YAML all render it as "[redacted]" (or "" when it is empty, so logs
// still show whether it is set). Use Value to read it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself, for the code that must send it.
func (s Secret) Value() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format implements fmt.Formatter so that every verb, including %#v, %x
// and %q, prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
