//go:build !unix

package streams

import (
	"fmt"
	"os"
)

// lockDir opens path; on this platform it does not lock.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	return f, nil
}
