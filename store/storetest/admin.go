package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

func testSuppressAndLift(t *testing.T, h Harness) {
	clock := t0.Add(100 * 24 * time.Hour)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()

	s, err := suppress(db, "Dave@Example.com", "asked by phone", "ticket 42")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Suppression{Address: "dave@example.com", Reason: "manual", Detail: "asked by phone", Since: clock}
	if s != want {
		t.Errorf("Suppress = %+v, want %+v", s, want)
	}
	if got, err := db.Suppression(ctx, "dave@example.com"); err != nil || got != want {
		t.Errorf("Suppression = %+v, %v", got, err)
	}
	// Suppressing again keeps the first record.
	if again, err := suppress(db, "dave@example.com", "other", ""); err != nil || again != want {
		t.Errorf("second Suppress = %+v, %v; want the first one kept", again, err)
	}

	if err := lift(db, "dave@example.com", "customer re-subscribed"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Suppression(ctx, "dave@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after Lift: %v, want ErrNotFound", err)
	}
	_, events, err := db.Recipient(ctx, "dave@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Reason != "suppress" || events[1].Reason != "lift" || events[1].Detail != "customer re-subscribed" {
		t.Errorf("history %+v, want the suppress and the lift", events)
	}
	if err := lift(db, "stranger@example.com", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lift(unknown): %v, want ErrNotFound", err)
	}
}

// After a Lift it takes a fresh run of bounces to suppress again: the ones
// that caused the first suppression no longer count.
func testLiftResetsCounters(t *testing.T, h Harness) {
	clock := day(10)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	record(t, db, bounce("erin@example.com", "hard", day(0)))
	record(t, db, bounce("erin@example.com", "hard", day(1)))
	record(t, db, bounce("frank@example.com", "complaint", day(1)))
	for _, addr := range []string{"erin@example.com", "frank@example.com"} {
		if _, err := db.Suppression(ctx, addr); err != nil {
			t.Fatalf("%s not suppressed before the lift: %v", addr, err)
		}
		if err := lift(db, addr, ""); err != nil {
			t.Fatal(err)
		}
	}

	record(t, db, bounce("erin@example.com", "hard", day(11)))
	if _, err := db.Suppression(ctx, "erin@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("one hard bounce after the lift suppressed again: %v", err)
	}
	// A late report of a bounce from before the lift does not count either.
	record(t, db, bounce("erin@example.com", "hard", day(2)))
	if _, err := db.Suppression(ctx, "erin@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pre-lift bounce suppressed again: %v", err)
	}
	record(t, db, bounce("erin@example.com", "hard", day(12)))
	if s, err := db.Suppression(ctx, "erin@example.com"); err != nil || !s.Since.Equal(day(12)) {
		t.Errorf("two hard bounces after the lift: %+v, %v; want suppressed since day 12", s, err)
	}

	r, _, err := db.Recipient(ctx, "frank@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if r.Complaints != 0 || r.Counts["complaint"] != 1 {
		t.Errorf("frank after lift: %d complaints since lift, %d ever; want 0 and 1", r.Complaints, r.Counts["complaint"])
	}
	record(t, db, bounce("frank@example.com", "complaint", day(20)))
	if _, err := db.Suppression(ctx, "frank@example.com"); err != nil {
		t.Errorf("a new complaint after the lift: %v, want suppressed", err)
	}
}
