package config

import (
	"net/url"
	"slices"
)

// Overrides are command-line values that replace the file's. Nil fields
// leave the configuration alone; set only the flags the user gave.
type Overrides struct {
	Listen *string // --listen
	Data   *string // --data
	NATS   *string // --nats
	Rules  *string // --rules
	DryRun *bool   // --dry-run
}

// Override applies o and validates the result. Errors about an overridden
// value name the flag instead of a position in the file.
func (c *Config) Override(o Overrides) error {
	set := func(dst *string, src *string, key, flag string) {
		if src != nil {
			*dst = *src
			c.markFlag(key, flag)
		}
	}
	set(&c.Listen, o.Listen, "listen", "--listen")
	set(&c.Data, o.Data, "data", "--data")
	set(&c.NATS, o.NATS, "nats", "--nats")
	set(&c.Rules, o.Rules, "rules", "--rules")
	if o.DryRun != nil {
		c.DryRun = *o.DryRun
		c.markFlag("dry_run", "--dry-run")
	}
	return c.Validate()
}

func (c *Config) markFlag(key, flag string) {
	if c.flags == nil {
		c.flags = map[string]string{}
	}
	c.flags[key] = flag
}

// redactURL returns raw without its password, query and fragment (which
// may carry tokens), for logs; "" when raw does not parse.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.Redacted()
}

// headerNames returns the sorted names of headers, without their values.
func headerNames(h map[string]Secret) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
