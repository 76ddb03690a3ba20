//go:build !unix

package main

import "time"

// preciseSleep is time.Sleep where nanosleep(2) is not to be had.
func preciseSleep(d time.Duration) { time.Sleep(d) }
