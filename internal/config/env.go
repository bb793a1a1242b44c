package config

import (
	"fmt"
	"strings"
)

// LookupFunc looks up an environment variable, like os.LookupEnv.
type LookupFunc func(name string) (string, bool)

// expansion is the result of expanding one scalar.
type expansion struct {
	value    string
	expanded bool     // the value contained a reference
	unset    []string // referenced variables that were not set (${NAME} form)
}

// expand replaces environment references in s:
//
//	${NAME}          the variable's value; unset: "" and NAME is reported in unset
//	${NAME:-default} the value, or default when NAME is unset or empty
//	${NAME:?}        the value; unset or empty is an error
//	${NAME:?message} the same, with message in the error
//	$$               a literal $
//
// A $ followed by anything else is kept as is. NAME is [A-Za-z_][A-Za-z0-9_]*.
// Errors name the variable, never a value.
func expand(s string, lookup LookupFunc) (expansion, error) {
	if !strings.Contains(s, "$") {
		return expansion{value: s}, nil
	}
	var b strings.Builder
	var x expansion
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			x.expanded = true
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return x, fmt.Errorf("unterminated ${ in value")
			}
			v, err := x.reference(s[i+2:i+end], lookup)
			if err != nil {
				return x, err
			}
			b.WriteString(v)
			i += end
		default:
			b.WriteByte('$')
		}
	}
	x.value = b.String()
	return x, nil
}

// reference resolves the inside of one ${…}.
func (x *expansion) reference(ref string, lookup LookupFunc) (string, error) {
	x.expanded = true
	name, op, arg := ref, "", ""
	if i := strings.IndexByte(ref, ':'); i >= 0 {
		name, op, arg = ref[:i], ref[i:min(i+2, len(ref))], ref[min(i+2, len(ref)):]
	}
	if !validEnvName(name) {
		return "", fmt.Errorf("invalid environment reference ${%s}", ref)
	}
	v, ok := lookup(name)
	switch op {
	case "":
		if !ok {
			x.unset = append(x.unset, name)
		}
		return v, nil
	case ":-":
		if v == "" {
			return arg, nil
		}
		return v, nil
	case ":?":
		if v != "" {
			return v, nil
		}
		if arg != "" {
			return "", fmt.Errorf("environment variable %s is not set: %s", name, arg)
		}
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return "", fmt.Errorf("invalid environment reference ${%s} (want ${NAME}, ${NAME:-default} or ${NAME:?})", name)
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
