package store

import (
	"math/rand/v2"
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

// The record keeps at most the threshold's worth of times (keepForBurst),
// yet an address is suppressed exactly when it would be by a record
// keeping every time in the window: checked on random streams of bounces
// received in order, at random thresholds, minimum spans and windows at
// least twice the span. (Once an address is suppressed the two may differ
// on whether a later bounce calls for it again, which changes nothing: the
// first reason stands until a Lift, which forgets the times.)
func TestBoundedTimesDecideAsAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	classes := []string{classHard, classSoft, classSoft, classSoft, classDelivered, "block"}
	for trial := range 2000 {
		p := DefaultPolicy()
		p.HardThreshold = 1 + rng.IntN(4)
		p.SoftThreshold = 1 + rng.IntN(6)
		p.SoftMinSpan = time.Duration(rng.IntN(5)) * 24 * time.Hour
		p.SoftWindow = 2*p.SoftMinSpan + time.Duration(rng.IntN(20)+1)*24*time.Hour
		p.HardWindow = time.Duration(rng.IntN(30)+1) * 24 * time.Hour
		bounded := Recipient{Address: "a@example.com"}
		var hard, soft []time.Time // every time in the window, as before the bound
		var cleared time.Time
		var got, want bool // suppressed
		at := day(0)
		for i := range 60 {
			at = at.Add(time.Duration(rng.Float64() * float64(3*24*time.Hour)))
			o := Observation{Class: classes[rng.IntN(len(classes))]}
			got = p.Observe(&bounded, o, at) != nil || got

			switch {
			case o.Class == classHard && at.After(cleared):
				hard = append(hard, at)
			case o.Class == classSoft && at.After(cleared):
				soft = append(soft, at)
			case o.Class == classDelivered:
				cleared, hard, soft = at, nil, nil
			}
			hard = prune(hard, at.Add(-p.HardWindow))
			soft = prune(soft, at.Add(-p.SoftWindow))
			want = want || (o.Class == classHard && burst(hard, p.HardThreshold, p.HardWindow, 0)) ||
				(o.Class == classSoft && burst(soft, p.SoftThreshold, p.SoftWindow, p.SoftMinSpan))
			if got != want {
				t.Fatalf("trial %d, observation %d (%s at day %.2f), policy %+v: suppressed %v, every time kept says %v\nkept %v\nall  %v",
					trial, i, o.Class, at.Sub(day(0)).Hours()/24, p, got, want, bounded.SoftTimes, soft)
			}
			if len(bounded.HardTimes) > p.HardThreshold || len(bounded.SoftTimes) > p.SoftThreshold+1 {
				t.Fatalf("trial %d: %d hard and %d soft times kept, thresholds %d and %d",
					trial, len(bounded.HardTimes), len(bounded.SoftTimes), p.HardThreshold, p.SoftThreshold)
			}
		}
	}
}
