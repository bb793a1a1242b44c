package webhook

// Check reports whether body is a Mailjet webhook body: valid JSON (the whole
// body, trailing garbage rejected, surrounding whitespace allowed) that is
// one object (Version 1) or an array of objects (Version 2, possibly empty).
// It returns the number of events, 1 for an object. It validates syntax
// only, decodes no field and does not allocate unless it returns an error.
// The error wraps ErrNotJSON or ErrNotObject; a body that is both not JSON
// and of the wrong shape is reported as ErrNotJSON, as json.Valid would.
func Check(body []byte) (n int, err error) {
	var st kindStack
	return check(body, &st, nil)
}

// CheckSpans is Check that also appends to spans where each event lies, for
// the event log's index (Index).
func CheckSpans(body []byte, spans []Span) (int, []Span, error) {
	var st kindStack
	n, err := check(body, &st, &spans)
	return n, spans, err
}

// Span is where one event's object lies in a body: body[Start:End].
type Span struct{ Start, End int }

// check is Check; when spans is not nil it also appends where each event
// lies, so that Decode needs no second pass to split the body.
func check(body []byte, st *kindStack, spans *[]Span) (n int, err error) {
	i := skipSpace(body, 0)
	if i >= len(body) {
		return 0, syntaxError(body, i)
	}
	first, badElem, badKind := body[i], -1, byte(0)
	var end int
	var ok bool
	switch first {
	case '{':
		n = 1
		if end, ok = skipObject(body, i, 0, st); ok && spans != nil {
			*spans = append(*spans, Span{i, end})
		}
	case '[':
		n, end, badElem, ok = checkArray(body, i, st, spans)
		if badElem >= 0 {
			badKind = body[end] // checkArray reports the element's offset in end
			end, ok = skipValue(body, i, 0, st)
		}
	default:
		end, ok = skipValue(body, i, 0, st)
	}
	if ok {
		if end = skipSpace(body, end); end < len(body) {
			ok = false
		}
	}
	switch {
	case !ok:
		return 0, syntaxError(body, end)
	case first == '[' && badElem >= 0:
		return 0, shapeError(badKind, badElem)
	case first != '{' && first != '[':
		return 0, shapeError(first, -1)
	}
	return n, nil
}

// checkArray validates the top-level array at b[i] and counts its elements,
// appending their spans when spans is not nil. When an element is not an
// object it stops and returns that element's index and offset (in end) with
// ok true, so check can finish the syntax check before choosing between
// ErrNotJSON and ErrNotObject.
func checkArray(b []byte, i int, st *kindStack, spans *[]Span) (n, end, badElem int, ok bool) {
	st.set(1, false)
	if i = skipSpace(b, i+1); i < len(b) && b[i] == ']' {
		return 0, i + 1, -1, true
	}
	for {
		if i < len(b) && b[i] != '{' {
			return n, i, n, true
		}
		start := i
		if i, ok = skipObject(b, i, 1, st); !ok {
			return n, i, -1, false
		}
		if spans != nil {
			*spans = append(*spans, Span{start, i})
		}
		n++
		if i = skipSpace(b, i); i >= len(b) {
			return n, i, -1, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return n, i + 1, -1, true
		default:
			return n, i, -1, false
		}
	}
}
