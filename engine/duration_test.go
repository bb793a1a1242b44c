package engine

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30d", 36 * time.Hour: "1d12h", 24 * time.Hour: "1d", 90 * time.Minute: "1h30m",
		15 * time.Second: "15s", time.Hour: "1h", 2*time.Hour + 30*time.Second: "2h30s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
