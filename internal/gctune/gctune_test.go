package gctune

import (
	"runtime/debug"
	"testing"
)

// restore puts back the collector settings a test changes.
func restore(t *testing.T) {
	gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}

func TestApplyDefaults(t *testing.T) {
	restore(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	if got, want := Apply(), "GOGC=200 GOMEMLIMIT=1024MiB"; got != want {
		t.Errorf("Apply() = %q, want %q", got, want)
	}
	if gc := debug.SetGCPercent(100); gc != Percent {
		t.Errorf("GOGC after Apply: %d, want %d", gc, Percent)
	}
}

// An operator's environment wins: Apply changes nothing it sets.
func TestApplyKeepsEnvironment(t *testing.T) {
	restore(t)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "64MiB")
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(64 << 20)
	if got, want := Apply(), "GOGC=150 GOMEMLIMIT=64MiB"; got != want {
		t.Errorf("Apply() = %q, want %q", got, want)
	}
}
