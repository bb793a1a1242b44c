package main

import (
	"slices"
	"time"
)

func sortDurations(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}
