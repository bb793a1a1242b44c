package webhook

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// Each documented event, as Version 1 and in one Version 2 body, decodes
// through its index exactly as Decode decodes it, into a reused slice too.
func TestDecodeIndexed(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	docs := docsEvents(t)
	bodies := append(docs, asArray(docs), []byte(" [ "+string(docs[0])+" ,\n"+string(docs[1])+" ] "))
	var reused []Span
	for _, body := range bodies {
		n, spans, err := CheckSpans(body, reused[:0])
		if err != nil || len(spans) != n {
			t.Fatalf("CheckSpans: %d spans, %d events, %v", len(spans), n, err)
		}
		reused = spans
		if parsed, ok := parseIndex(body, Index(spans)); !ok || !slices.Equal(parsed, spans) {
			t.Fatalf("%s: the index of its own spans is not used: %v, %v", body, parsed, ok)
		}
		want, _ := Decode(body, at)
		got, err := DecodeIndexed(nil, body, Index(spans), at)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nDecodeIndexed %+v, %v\nDecode %+v", body, got, err, want)
		}
	}
}

// An index that does not describe the body is not used: the body is
// decoded and validated as by Decode, so a bad body still fails.
func TestDecodeIndexedFallsBack(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	body := []byte(`[{"event":"sent","MessageID":1},{"event":"open","MessageID":1,"x":{"y":2}}]`)
	_, spans, _ := CheckSpans(body, nil)
	good := Index(spans)
	_, other, _ := CheckSpans([]byte(`[{"event":"sent"}, {"event":"open"}]`), nil)
	want, _ := Decode(body, at)
	for name, index := range map[string]string{
		"none":             "",
		"not base64":       "!!",
		"truncated":        good[:len(good)-2],
		"another body's":   Index(other),
		"one event":        Index(spans[:1]),
		"inside an object": Index([]Span{spans[0], {spans[1].Start + 37, spans[1].End - 1}}),
		"past the end":     Index([]Span{spans[0], {spans[1].Start, len(body) + 5}}),
	} {
		if _, ok := parseIndex(body, index); ok {
			t.Errorf("%s index accepted", name)
		}
		got, err := DecodeIndexed(nil, body, index, at)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s index: %+v, %v; want Decode's", name, got, err)
		}
	}
	if _, err := DecodeIndexed(nil, []byte(`[{"a":1},2]`), Index([]Span{{1, 8}}), at); err == nil {
		t.Error("a bad body with an index that does not cover it decoded")
	}
}
