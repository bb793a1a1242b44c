package config

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder fills a Config from a YAML node tree, strictly: every key must
// name a field, every value must have the field's type. It keeps going
// after an error so that one run reports every problem.
type decoder struct {
	file   string
	lookup LookupFunc
	errs   errorList
	pos    map[string]position // key path → value position
	unset  map[string][]string // key path → unset variables it referenced
	warn   []string
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Col: n.Column, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// decode stores n into v, whose key path is key.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[key] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value keeps the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	switch {
	case reflect.PointerTo(v.Type()).Implements(textUnmarshaler):
		d.text(n, v, key)
	case v.Kind() == reflect.Struct:
		d.structure(n, v, key)
	case v.Kind() == reflect.Map:
		d.mapping(n, v, key)
	default:
		d.scalar(n, v, key)
	}
}

// structure decodes a mapping into a struct, field by yaml tag.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "must be a mapping")
		return
	}
	fields := yamlFields(v.Type())
	d.pairs(n, key, func(k *yaml.Node, val *yaml.Node, path string) {
		i, ok := fields[k.Value]
		if !ok {
			d.errorf(k, path, "unknown key%s", suggest(k.Value, fields))
			return
		}
		d.decode(val, v.Field(i), path)
	})
}

// mapping decodes a mapping into a map[string]T.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "must be a mapping")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.pairs(n, key, func(k *yaml.Node, val *yaml.Node, path string) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, path)
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	})
}

// pairs calls fn for each key/value of a mapping, rejecting non-scalar,
// duplicate and merge keys.
func (d *decoder) pairs(n *yaml.Node, key string, fn func(k, v *yaml.Node, path string)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := joinKey(key, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, key, "keys must be strings")
		case k.Tag == "!!merge":
			d.errorf(k, key, "merge keys (<<) are not supported")
		case seen[k.Value]:
			d.errorf(k, path, "duplicate key")
		default:
			seen[k.Value] = true
			fn(k, val, path)
		}
	}
}

// value expands the environment references of a scalar. ok is false when
// there is nothing to store: an error, or an empty value from the
// environment (which keeps the default).
func (d *decoder) value(n *yaml.Node, key string) (s string, fromEnv, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, key, "must be a single value, not a %s", kindName(n.Kind))
		return "", false, false
	}
	x, err := expand(n.Value, d.lookup)
	if err != nil {
		d.errorf(n, key, "%v", err)
		return "", false, false
	}
	for _, name := range x.unset {
		d.unset[key] = append(d.unset[key], name)
		d.warn = append(d.warn, fmt.Sprintf("%s:%d:%d: %s: environment variable %s is not set", d.file, n.Line, n.Column, key, name))
	}
	if x.expanded && x.value == "" {
		return "", true, false
	}
	return x.value, x.expanded, true
}

// text decodes a scalar through encoding.TextUnmarshaler (Size, Duration).
func (d *decoder) text(n *yaml.Node, v reflect.Value, key string) {
	s, fromEnv, ok := d.value(n, key)
	if !ok {
		return
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		d.errorf(n, key, "%s%v", quoted(s, fromEnv, v), err)
	}
}

// scalar decodes strings, bools and ints.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, key string) {
	s, fromEnv, ok := d.value(n, key)
	if !ok {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil || !slices.Contains([]string{"true", "false", "True", "False", "TRUE", "FALSE"}, s) {
			d.errorf(n, key, "%smust be true or false", quoted(s, fromEnv, v))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(s)
		if err != nil {
			d.errorf(n, key, "%smust be an integer", quoted(s, fromEnv, v))
			return
		}
		v.SetInt(int64(i))
	default:
		d.errorf(n, key, "unsupported type %s", v.Type())
	}
}

// quoted returns `"s": ` for messages, or "" when s may be a secret (it
// came from the environment or is stored in a Secret).
func quoted(s string, fromEnv bool, v reflect.Value) string {
	if fromEnv || v.Type() == reflect.TypeFor[Secret]() {
		return ""
	}
	return strconv.Quote(s) + ": "
}

// yamlFields maps a struct's yaml keys to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		m[name] = i
	}
	return m
}

// suggest returns " (did you mean x?)" for a close known key, or "".
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for name := range fields {
		if dist := editDistance(key, name); dist < bestDist || dist == bestDist && name < best {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "node"
}
