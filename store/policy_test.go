package store

import (
	"testing"
	"time"
)

func day(n float64) time.Time {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return t0.Add(time.Duration(n * 24 * float64(time.Hour)))
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("DefaultPolicy: %v", err)
	}
	bad := []func(*Policy){
		func(p *Policy) { p.HardThreshold = 0 },
		func(p *Policy) { p.ComplaintThreshold = -1 },
		func(p *Policy) { p.SoftThreshold = 0 },
		func(p *Policy) { p.HardWindow = 0 },
		func(p *Policy) { p.SoftWindow = -time.Hour },
		func(p *Policy) { p.SoftMinSpan = 31 * 24 * time.Hour },
		func(p *Policy) { p.HardThreshold = maxWindowTimes + 1 },
	}
	for i, mutate := range bad {
		p := DefaultPolicy()
		mutate(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("case %d: Validate(%+v) = nil, want an error", i, p)
		}
	}
}

func TestBurst(t *testing.T) {
	d := func(days ...float64) []time.Time {
		var out []time.Time
		for _, x := range days {
			out = append(out, day(x))
		}
		return out
	}
	const w = 30 * 24 * time.Hour
	tests := []struct {
		times   []time.Time
		k       int
		minSpan time.Duration
		want    bool
	}{
		{nil, 1, 0, false},
		{d(0), 1, 0, true},
		{d(0, 30), 2, 0, true},
		{d(0, 30.01), 2, 0, false},
		{d(0, 20, 40), 2, 0, true},
		{d(0, 1, 2, 3, 4), 5, 3 * 24 * time.Hour, true},
		{d(0, 1, 2, 2.9, 2.95), 5, 3 * 24 * time.Hour, false},
		{d(0, 29, 31, 32, 33, 34), 5, 3 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		if got := burst(tt.times, tt.k, w, tt.minSpan); got != tt.want {
			t.Errorf("burst(%v, %d, span %s) = %v, want %v", tt.times, tt.k, tt.minSpan, got, tt.want)
		}
	}
}
