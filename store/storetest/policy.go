package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

type obs struct {
	class string
	day   float64
}

func repeat(class string, days ...float64) []obs {
	var out []obs
	for _, d := range days {
		out = append(out, obs{class, d})
	}
	return out
}

func times(n int, class string) []obs {
	var out []obs
	for i := range n {
		out = append(out, obs{class, float64(i)})
	}
	return out
}

func testPolicy(t *testing.T, h Harness) {
	tests := []struct {
		name string
		obs  []obs
		want string // suppression reason, "" for none
	}{
		{"one hard", repeat("hard", 0), ""},
		{"two hard within window", repeat("hard", 0, 29.9), "hard"},
		{"two hard the same day", repeat("hard", 0, 0), "hard"},
		{"two hard 31 days apart", repeat("hard", 0, 31), ""},
		{"three hard, each pair 31 days apart", repeat("hard", 0, 31, 62), ""},
		{"hard reported out of order", repeat("hard", 40, 0, 39), "hard"},
		{"one complaint", repeat("complaint", 0), "complaint"},
		{"5 soft over 10 days", repeat("soft", 0, 3, 6, 8, 10), "soft"},
		{"4 soft", repeat("soft", 0, 2, 4, 6), ""},
		{"5 soft over 2 days", repeat("soft", 0, 0.5, 1, 1.5, 2), ""},
		{"5 soft over 3 days", repeat("soft", 0, 0.75, 1.5, 2.25, 3), "soft"},
		{"5 soft over 31 days", repeat("soft", 0, 10, 20, 25, 31), ""},
		{"10 soft in one day, then 3 days later", append(repeat("soft", 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), obs{"soft", 3}), "soft"},
		{"block x10", times(10, "block"), ""},
		{"autoreply x10", times(10, "autoreply"), ""},
		{"delayed x10", times(10, "delayed"), ""},
		{"unknown x10", times(10, "unknown"), ""},
		{"empty class x10", times(10, ""), ""},
		{"delivered x10", times(10, "delivered"), ""},
		{"hard, delivered, hard", []obs{{"hard", 0}, {"delivered", 1}, {"hard", 2}}, ""},
		{"hard, delivered, hard, hard", []obs{{"hard", 0}, {"delivered", 1}, {"hard", 2}, {"hard", 3}}, "hard"},
		{"soft streak broken by delivery", []obs{{"soft", 0}, {"soft", 1}, {"soft", 2}, {"delivered", 2.5}, {"soft", 3}, {"soft", 4}}, ""},
		{"delivery reported late still clears what came before it", []obs{{"hard", 0}, {"delivered", 1}, {"hard", 0.5}}, ""},
		{"hard after a late delivery report counts", []obs{{"hard", 2}, {"delivered", 1}, {"hard", 3}}, "hard"},
		{"delivery does not clear a complaint", []obs{{"delivered", 0}, {"complaint", 1}, {"delivered", 2}}, "complaint"},
		{"blocks between hards", []obs{{"hard", 0}, {"block", 1}, {"autoreply", 2}, {"hard", 3}}, "hard"},
		{"hard then soft", []obs{{"hard", 0}, {"soft", 1}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t, h, Options{})
			ctx := context.Background()
			for _, o := range tt.obs {
				record(t, db, bounce("alice@example.com", o.class, day(o.day)))
			}
			s, err := db.Suppression(ctx, "Alice@example.com")
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("suppressed (%+v), want not", s)
			case tt.want == "" && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("Suppression: %v, want ErrNotFound", err)
			case tt.want != "" && err != nil:
				t.Fatalf("Suppression: %v, want %s", err, tt.want)
			case tt.want != "" && s.Reason != tt.want:
				t.Fatalf("suppressed for %q, want %q", s.Reason, tt.want)
			}
			r, _, err := db.Recipient(ctx, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if r.Suppressed != (tt.want != "") {
				t.Errorf("Recipient.Suppressed = %v, want %v", r.Suppressed, tt.want != "")
			}
		})
	}
}

// Once suppressed, an address stays suppressed for its first reason, with
// the time and verdict that tipped it over, whatever comes later.
func testSuppressionSticks(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	for i, class := range []string{"hard", "hard", "delivered", "complaint", "delivered"} {
		record(t, db, bounce("bob@example.com", class, day(float64(i))))
	}
	s, err := db.Suppression(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Suppression{Address: "bob@example.com", Reason: "hard", Detail: "hard-reason", Since: day(1)}
	if s != want {
		t.Errorf("suppression = %+v, want %+v", s, want)
	}
}

func testPolicyCustom(t *testing.T, h Harness) {
	p := store.Policy{
		HardThreshold: 1, HardWindow: time.Hour,
		ComplaintThreshold: 3,
		SoftThreshold:      2, SoftMinSpan: 0, SoftWindow: time.Hour,
	}
	db := open(t, h, Options{Policy: p})
	ctx := context.Background()
	record(t, db, bounce("h@example.com", "hard", t0))
	record(t, db, bounce("s@example.com", "soft", t0))
	record(t, db, bounce("s@example.com", "soft", t0.Add(time.Minute)))
	for range 2 {
		record(t, db, bounce("c@example.com", "complaint", t0))
	}
	got, err := db.Check(ctx, []string{"h@example.com", "s@example.com", "c@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || got[1] == nil || got[2] != nil {
		t.Errorf("Check = %v, want hard and soft suppressed, two complaints of three not", got)
	}
}

// DMARC/SPF/DKIM failure reports and "not spam" reports come as ARF with
// class complaint, but the recipient did not complain: they are kept and
// counted, never suppressed for.
func testComplaintFeedbackTypes(t *testing.T, h Harness) {
	tests := []struct {
		feedbackType string
		suppress     bool
	}{
		{"abuse", true},
		{"fraud", true},
		{"", true}, // a complaint without a type is taken at its word
		{"auth-failure", false},
		{"Auth-Failure", false},
		{" not-spam ", false},
	}
	for _, tt := range tests {
		t.Run(tt.feedbackType, func(t *testing.T) {
			db := open(t, h, Options{Policy: store.Policy{
				HardThreshold: 2, HardWindow: time.Hour, SoftThreshold: 2, SoftWindow: time.Hour,
				ComplaintThreshold: 2,
			}})
			ctx := context.Background()
			for i := range 3 {
				m := bounce("alice@example.com", "complaint", day(float64(i)))
				m.Observations[0].FeedbackType = tt.feedbackType
				record(t, db, m)
			}
			r, events, err := db.Recipient(ctx, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if r.Suppressed != tt.suppress {
				t.Errorf("suppressed = %v, want %v", r.Suppressed, tt.suppress)
			}
			if r.Counts["complaint"] != 3 || len(events) != 3 || events[0].FeedbackType != tt.feedbackType {
				t.Errorf("counts %v, %d events (%+v); want all 3 recorded", r.Counts, len(events), events[0])
			}
		})
	}
}

// Complaints that are not complaints do not add up to one either, and do
// not trip a threshold lowered since the real ones came in.
func testNonComplaintsNeverTipTheThreshold(t *testing.T, h Harness) {
	db, o := openWith(t, h, Options{Policy: store.Policy{
		HardThreshold: 2, HardWindow: time.Hour, SoftThreshold: 2, SoftWindow: time.Hour,
		ComplaintThreshold: 3,
	}})
	ctx := context.Background()
	feedback := func(ft string, d float64) store.Message {
		m := bounce("bob@example.com", "complaint", day(d))
		m.Observations[0].FeedbackType = ft
		return m
	}
	record(t, db, feedback("abuse", 0))
	record(t, db, feedback("abuse", 1))
	db.Close()
	lowered := store.DefaultPolicy() // ComplaintThreshold 1
	db = reopen(t, o, Options{Policy: lowered})
	record(t, db, feedback("auth-failure", 2))
	if _, err := db.Suppression(ctx, "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an auth-failure report suppressed bob: %v", err)
	}
	record(t, db, feedback("abuse", 3))
	if s, err := db.Suppression(ctx, "bob@example.com"); err != nil || s.Reason != "complaint" {
		t.Errorf("a real complaint: %+v, %v; want suppressed", s, err)
	}
}
