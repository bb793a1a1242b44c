package httpload

import "time"

// Percentile returns the p-th quantile (0 ≤ p ≤ 1) of sorted, the
// nearest-rank value, or 0 when sorted is empty. p = 1 is the maximum.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
