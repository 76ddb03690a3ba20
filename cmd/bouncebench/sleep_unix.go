//go:build unix

package main

import (
	"syscall"
	"time"
)

// preciseSleep sleeps for d in nanosleep(2), on the calling goroutine's
// thread, which the caller should have locked (runtime.LockOSThread).
func preciseSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
