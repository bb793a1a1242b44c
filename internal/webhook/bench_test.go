package webhook

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
)

// The benchmarks run over a Version 2 body of 100 events (Mailjet's
// documented examples, about 38 KB), the shape issue 2 sets its speed target
// on. BenchmarkJSONValid and BenchmarkEncodingJSON are references.

const benchEvents = 100

func reportPerEvent(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEvents), "ns/event")
}

func BenchmarkCheck(b *testing.B) {
	body := benchBody(b, benchEvents)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if n, err := Check(body); err != nil || n != benchEvents {
			b.Fatal(n, err)
		}
	}
	reportPerEvent(b)
}

// BenchmarkCheckV1 checks one Version 1 body: a single event.
func BenchmarkCheckV1(b *testing.B) {
	body := docsEvents(b)[4] // the bounce, the longest
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if n, err := Check(body); err != nil || n != 1 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkJSONValid(b *testing.B) {
	body := benchBody(b, benchEvents)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !json.Valid(body) {
			b.Fatal("invalid")
		}
	}
	reportPerEvent(b)
}

func BenchmarkDecode(b *testing.B) {
	body := benchBody(b, benchEvents)
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if events, err := Decode(body, now); err != nil || len(events) != benchEvents {
			b.Fatal(len(events), err)
		}
	}
	reportPerEvent(b)
}

// BenchmarkDecodeIndexed is Decode as the event log's consumer runs it:
// with the index ingest wrote, into the previous record's events.
func BenchmarkDecodeIndexed(b *testing.B) {
	body := benchBody(b, benchEvents)
	_, spans, _ := CheckSpans(body, nil)
	index := Index(spans)
	now := time.Now()
	var events []engine.Event
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if events, err = DecodeIndexed(events, body, index, now); err != nil || len(events) != benchEvents {
			b.Fatal(len(events), err)
		}
	}
	reportPerEvent(b)
}

// BenchmarkEncodingJSON decodes the same body with encoding/json into maps
// (UseNumber, so ids stay exact): what Decode would cost built on it.
func BenchmarkEncodingJSON(b *testing.B) {
	body := benchBody(b, benchEvents)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var events []map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&events); err != nil || len(events) != benchEvents {
			b.Fatal(len(events), err)
		}
	}
	reportPerEvent(b)
}
