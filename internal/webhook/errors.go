package webhook

import (
	"errors"
	"fmt"
)

// ErrNotJSON is returned by Check and Decode when the body is not valid JSON.
var ErrNotJSON = errors.New("webhook body is not JSON")

// ErrNotObject is returned by Check and Decode when the body is valid JSON but
// neither an object nor an array of objects.
var ErrNotObject = errors.New("webhook body is not an object or an array of objects")

// Reason returns a short label for a Check or Decode error, for metrics:
// "not_json", "not_object", "" for nil, and "other" for any other error.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotJSON):
		return "not_json"
	case errors.Is(err, ErrNotObject):
		return "not_object"
	default:
		return "other"
	}
}

// syntaxError wraps ErrNotJSON with the offset where the body stopped being
// JSON.
func syntaxError(body []byte, off int) error {
	if off >= len(body) {
		return fmt.Errorf("%w: unexpected end at byte %d", ErrNotJSON, off)
	}
	return fmt.Errorf("%w: unexpected %q at byte %d", ErrNotJSON, body[off], off)
}

// shapeError wraps ErrNotObject with what was found instead of an object.
// elem is the index of the offending array element, or -1 for the top level.
func shapeError(c byte, elem int) error {
	if elem < 0 {
		return fmt.Errorf("%w: top level is %s", ErrNotObject, kindName(c))
	}
	return fmt.Errorf("%w: element %d is %s", ErrNotObject, elem, kindName(c))
}

// kindName names the kind of JSON value that starts with c.
func kindName(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
