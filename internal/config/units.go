package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes. In YAML and on the command line it is written
// as a plain number of bytes or a number with a unit: B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive,
// with an optional space: "16MiB", "10GiB", "512KB", "1.5 GiB", "4096".
type Size int64

// Common sizes.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize parses s as a Size. Negative sizes are errors.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, errors.New("not a size (want bytes or a number with B, KB, MB, GB, KiB, MiB, GiB, …)")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errors.New("not a size (want bytes or a number with B, KB, MB, GB, KiB, MiB, GiB, …)")
	}
	if f < 0 {
		return 0, errors.New("must not be negative")
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return Size(math.Round(v)), nil
}

// String formats s with the largest binary unit that divides it exactly.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    Size
	}{{"TiB", 1 << 40}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Bytes returns s as an int64.
func (s Size) Bytes() int64 { return int64(s) }

// MarshalText implements encoding.TextMarshaler (flag.TextVar, JSON).
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Duration is a time.Duration written as a Go duration ("90s", "1h30m")
// optionally starting with whole or fractional days ("7d", "1d12h",
// "1.5d"). A day is 24 hours. Negative durations are errors.
type Duration time.Duration

// ParseDuration parses s as a Duration.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, errors.New("must not be negative")
	}
	var days float64
	if i := strings.IndexByte(t, 'd'); i >= 0 {
		f, err := strconv.ParseFloat(t[:i], 64)
		if err != nil || f < 0 {
			return 0, errors.New(`not a duration (want e.g. "90s", "15m", "24h", "7d")`)
		}
		days, t = f, t[i+1:]
		if t == "" {
			t = "0s"
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, errors.New(`not a duration (want e.g. "90s", "15m", "24h", "7d")`)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	total := float64(d) + days*24*float64(time.Hour)
	if total >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return Duration(total), nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration, with whole days as "Nd" when d is a
// whole number of days ("7d"), so that formatted values parse back.
func (d Duration) String() string {
	day := 24 * time.Hour
	if td := time.Duration(d); td != 0 && td%day == 0 {
		return fmt.Sprintf("%dd", td/day)
	}
	return time.Duration(d).String()
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
