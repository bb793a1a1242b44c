package webhook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// docsEvents returns each event of testdata/events-docs.jsonl (Mailjet's
// documented examples) as its own JSON object, in file order.
func docsEvents(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.ReadFile("testdata/events-docs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(f))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if line[0] == '{' {
			out = append(out, bytes.Clone(line))
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(line, &arr); err != nil {
			t.Fatalf("events-docs.jsonl: %v", err)
		}
		for _, raw := range arr {
			out = append(out, []byte(raw))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// asArray joins objects into one Version 2 body.
func asArray(objects [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(objects, []byte{','})...), ']')
}

// benchBody returns a Version 2 body of n events cycling through Mailjet's
// documented examples: a realistic mix of types and sizes.
func benchBody(t testing.TB, n int) []byte {
	docs := docsEvents(t)
	objects := make([][]byte, n)
	for i := range objects {
		objects[i] = docs[i%len(docs)]
	}
	return asArray(objects)
}
