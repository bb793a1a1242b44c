// Package testutil holds helpers that the tests of several packages share.
// Only tests import it.
package testutil

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/heraldmail/herald/actions"
)

// Buffer is a bytes.Buffer safe for concurrent use: tests read the logs a
// server or dispatcher is still writing.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// BadAction checks err, the answer to an action with bad parameters: an
// error, permanent (never retried), that says wantMsg.
func BadAction(t *testing.T, err error, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatal("Do = nil, want an error")
	}
	if retry, _ := actions.Retryable(err); retry {
		t.Errorf("a bad action must be permanent: %v", err)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error %q does not contain %q", err, wantMsg)
	}
}
