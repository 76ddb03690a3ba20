//go:build unix

package classify

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system: on a
// machine shared with other work, a steadier measure of a benchmark's own
// cost than the time it took.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
