package config

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the configuration file at path with os.LookupEnv for
// environment references. Load("") returns Default().
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes data, a herald.yaml named file (for messages), over
// Default() and validates the result. All errors are returned together
// (errors.Join of *Error, in file order).
//
// Scalar values, never keys, may reference the environment; references
// are expanded in the parsed values, so a value containing ": " or "#"
// cannot change the file's structure:
//
//	${NAME}          the variable's value. Unset: empty, plus a warning in
//	                 Config.Warnings; a connection referencing it runs dry
//	                 (Connection.MissingEnv), and an empty value from the
//	                 environment leaves the key's default.
//	${NAME:-default} the value, or default when NAME is unset or empty
//	${NAME:?}        the value; unset or empty is a load error. Use it for
//	                 secrets herald must not run without.
//	${NAME:?message} the same, with message in the error
//	$$               a literal $; a $ followed by anything else stays as is
func Parse(file string, data []byte, lookup LookupFunc) (*Config, error) {
	c := Default()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	d := &decoder{file: file, lookup: lookup, pos: map[string]position{}, unset: map[string][]string{}}
	if len(doc.Content) > 0 {
		d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	}
	c.Warnings = d.warn
	c.pos = d.pos
	c.file = file
	c.markMissingEnv(d.unset)
	c.applyConnectionDefaults()
	errs := append(d.errs, c.validate()...)
	if err := errs.join(); err != nil {
		return nil, err
	}
	return c, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns yaml.v3's "yaml: line N: msg" into "file:N: msg".
func syntaxError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// markMissingEnv records, per connection, the unset variables it uses.
func (c *Config) markMissingEnv(unset map[string][]string) {
	for path, names := range unset {
		rest, ok := strings.CutPrefix(path, "connections.")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if conn := c.Connections[name]; conn != nil {
			conn.MissingEnv = append(conn.MissingEnv, names...)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Connections)) {
		conn := c.Connections[name]
		if conn == nil || len(conn.MissingEnv) == 0 {
			continue
		}
		slices.Sort(conn.MissingEnv)
		conn.MissingEnv = slices.Compact(conn.MissingEnv)
		{
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: connection %s references unset environment variables (%s): its actions run dry",
				c.where("connections."+name), name, strings.Join(conn.MissingEnv, ", ")))
		}
	}
}

// applyConnectionDefaults fills per-type defaults.
func (c *Config) applyConnectionDefaults() {
	for _, conn := range c.Connections {
		if conn == nil {
			continue
		}
		switch conn.Type {
		case TypeMailjet:
			if conn.BaseURL == "" {
				conn.BaseURL = DefaultMailjetBaseURL
			}
		case TypeHTTP:
			if conn.Timeout == 0 {
				conn.Timeout = Duration(DefaultHTTPCallTimeout)
			}
		}
	}
}

// where returns "file:line:col" of a key, or the file name, or "config".
func (c *Config) where(key string) string {
	if p, ok := c.pos[key]; ok {
		return fmt.Sprintf("%s:%d:%d", c.file, p.line, p.col)
	}
	if c.file != "" {
		return c.file
	}
	return "config"
}
