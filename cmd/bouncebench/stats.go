package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// latencies are durations whose percentiles a report prints.
type latencies []time.Duration

// percentile returns the q-th quantile (0 < q <= 1), nearest rank, of
// sorted l.
func (l latencies) percentile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// summary sorts l and prints p50, p90, p99 and max.
func (l latencies) summary() string {
	slices.Sort(l)
	if len(l) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", ms(l.percentile(0.5)), ms(l.percentile(0.9)),
		ms(l.percentile(0.99)), ms(l[len(l)-1]))
}

// ms prints a duration in milliseconds with a precision fit for it.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 1:
		return fmt.Sprintf("%.3fms", f)
	case f < 100:
		return fmt.Sprintf("%.2fms", f)
	}
	return fmt.Sprintf("%.0fms", f)
}
