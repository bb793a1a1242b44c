//go:build unix

package streams

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive advisory lock on path so that two herald
// processes never run an embedded server on the same data directory. The
// kernel releases it when the process exits, even on SIGKILL.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another herald process", filepath.Dir(path))
		}
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	return f, nil
}
