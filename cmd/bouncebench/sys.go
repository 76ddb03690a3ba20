package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// machine describes what the figures were measured on.
func machine() string {
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), load average %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadavg())
}

// loadavg returns the 1, 5 and 15 minute load averages where the system
// says (Linux), so that a reader can tell a busy machine's figures.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
