package webhook

import (
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/heraldmail/herald/engine"
)

// The index of a body is where its events lie, written beside it in the
// event log when it is appended, so the log's consumer decodes each event
// without first validating and splitting the whole body again (Decode's
// Check pass, a quarter of its time). Ingest computes the spans with
// CheckSpans; a record is only ever appended after its body passed Check.
//
// Encoding: the number of events, then per event the gap from the end of
// the previous one (from the start of the body for the first) and its
// length, as uvarints, in unpadded standard base64 (a NATS header value is
// text). About four bytes an event.

// Index encodes spans, in body order, for DecodeIndexed.
func Index(spans []Span) string {
	buf := make([]byte, 0, binary.MaxVarintLen64*(1+2*len(spans)))
	buf = binary.AppendUvarint(buf, uint64(len(spans)))
	end := 0
	for _, sp := range spans {
		buf = binary.AppendUvarint(buf, uint64(sp.Start-end))
		buf = binary.AppendUvarint(buf, uint64(sp.End-sp.Start))
		end = sp.End
	}
	return base64.RawStdEncoding.EncodeToString(buf)
}

// DecodeIndexed is DecodeInto for a body whose events index (Index) lists.
// The body is trusted to be one that passed Check, as the event log's
// records are: the objects are decoded without validating their syntax
// again. The index itself is checked against the body — every event an
// object in order, and only whitespace, commas and the array's brackets
// between them — and a body without a usable index is decoded by
// DecodeInto, which validates it.
func DecodeIndexed(dst []engine.Event, body []byte, index string, received time.Time) ([]engine.Event, error) {
	spans, ok := parseIndex(body, index)
	if !ok {
		return DecodeInto(dst, body, received)
	}
	var st kindStack
	return decodeSpans(reuse(dst, len(spans)), body, spans, &st, received), nil
}

// parseIndex decodes index and checks that it describes body.
func parseIndex(body []byte, index string) ([]Span, bool) {
	if index == "" {
		return nil, false
	}
	raw, err := base64.RawStdEncoding.DecodeString(index)
	if err != nil {
		return nil, false
	}
	n, w := binary.Uvarint(raw)
	if w <= 0 || n == 0 || n > uint64(len(body)/2) {
		return nil, false
	}
	raw = raw[w:]
	spans := make([]Span, 0, n)
	end := 0
	for range n {
		gap, w1 := binary.Uvarint(raw)
		if w1 <= 0 {
			return nil, false
		}
		size, w2 := binary.Uvarint(raw[w1:])
		if w2 <= 0 || gap > uint64(len(body)-end) || size < 2 || size > uint64(len(body)-end)-gap {
			return nil, false
		}
		raw = raw[w1+w2:]
		sp := Span{Start: end + int(gap), End: end + int(gap) + int(size)}
		if !between(body[end:sp.Start]) || body[sp.Start] != '{' || body[sp.End-1] != '}' {
			return nil, false
		}
		spans = append(spans, sp)
		end = sp.End
	}
	if len(raw) != 0 || !between(body[end:]) {
		return nil, false
	}
	return spans, true
}

// between reports whether b holds only what separates a body's events.
func between(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', '[', ']', ',':
		default:
			return false
		}
	}
	return true
}
