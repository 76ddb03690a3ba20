package smtpd

import (
	"fmt"
	"testing"
	"time"
)

func TestByteRate(t *testing.T) {
	r := newByteRate(1000) // bytes per hour
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if !r.allow("a", t0) {
		t.Fatal("a new client is refused")
	}
	r.charge("a", 600, t0)
	if !r.allow("a", t0) {
		t.Fatal("refused with 400 bytes left")
	}
	r.charge("a", 600, t0) // one message may overdraw
	if r.allow("a", t0) {
		t.Error("allowed past the allowance")
	}
	if !r.allow("b", t0) {
		t.Error("another client is refused")
	}
	// 200 bytes short: back after 12 minutes and a bit.
	if r.allow("a", t0.Add(12*time.Minute)) || !r.allow("a", t0.Add(13*time.Minute)) {
		t.Error("the allowance does not refill at 1000 bytes an hour")
	}
	// It refills to one hour's worth, no more.
	if r.charge("a", 1000, t0.Add(100*time.Hour)); r.allow("a", t0.Add(100*time.Hour)) {
		t.Error("a long-idle client saved up more than an hour's allowance")
	}
	// The map of clients stays bounded.
	for i := range 3 * sweepAt {
		r.charge(fmt.Sprint("c", i), 1, t0.Add(time.Duration(i)*time.Minute))
	}
	if n := len(r.clients); n > sweepAt+60 {
		t.Errorf("%d clients kept, want about %d at most", n, sweepAt)
	}
	if newByteRate(0) != nil || !(*byteRate)(nil).allow("x", t0) {
		t.Error("a zero rate does not turn the limit off")
	}
}
