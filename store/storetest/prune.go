package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// The tests of store.Pruner: what each Retention field prunes, what it
// never prunes, and pruning while messages are recorded.

func pruneAt(t testing.TB, s store.Store, r store.Retention, now time.Time) store.PruneStats {
	t.Helper()
	st, err := s.Prune(context.Background(), r, now)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func recordIDs(t testing.TB, s store.Store, msgs ...store.Message) []uint64 {
	t.Helper()
	var ids []uint64
	for _, m := range msgs {
		ids = append(ids, record(t, s, m))
	}
	return ids
}

// Raw messages older than the retention go, oldest first; their records,
// verdicts and events stay, and reading one says it was pruned.
func testPruneRawMessages(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, Options{Now: func() time.Time { return day(100) }})
	ids := recordIDs(t, s,
		bounce("a@example.com", "hard", day(0)),
		bounce("b@example.com", "soft", day(9)),
		bounce("c@example.com", "hard", day(10)),
		bounce("a@example.com", "hard", day(99)))
	r := store.Retention{RawMessages: 90 * 24 * time.Hour}

	st := pruneAt(t, s, r, day(100))
	if st.RawMessages != 2 || st.RawBytes <= 0 || st.Events != 0 {
		t.Errorf("prune: %+v, want the raw bytes of the 2 messages received before day 10", st)
	}
	for i, id := range ids {
		raw, err := s.RawMessage(ctx, id)
		if i < 2 {
			if !errors.Is(err, store.ErrPruned) || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RawMessage(%d) of a pruned message: %q, %v; want ErrPruned, which is ErrNotFound", id, raw, err)
			}
		} else if err != nil || len(raw) == 0 {
			t.Errorf("RawMessage(%d) within the retention: %q, %v", id, raw, err)
		}
	}
	if _, err := s.RawMessage(ctx, 1000); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPruned) {
		t.Errorf("RawMessage of no message: %v, want ErrNotFound alone", err)
	}
	msgs, err := s.Messages(ctx, 0, 0)
	if err != nil || len(msgs) != 4 {
		t.Fatalf("Messages: %d, %v; want all 4 still listed", len(msgs), err)
	}
	for i, m := range msgs {
		pruned := i < 2
		if m.RawPruned != pruned || (m.Raw == nil) != pruned || len(m.Observations) != 1 || m.EnvelopeTo[0] != "bounces@bounce.example.com" {
			t.Errorf("message %d: RawPruned %v, %d raw bytes, %d observations, envelope %v", m.ID, m.RawPruned, len(m.Raw), len(m.Observations), m.EnvelopeTo)
		}
	}
	r0, events, err := s.Recipient(ctx, "a@example.com")
	if err != nil || len(events) != 2 || r0.Counts["hard"] != 2 || !r0.FirstBounce.Equal(day(0)) {
		t.Errorf("a@example.com after the prune: %+v, %d events, %v; want its 2 hard bounces kept", r0, len(events), err)
	}

	if st := pruneAt(t, s, r, day(100)); st != (store.PruneStats{}) {
		t.Errorf("second prune at the same time: %+v, want nothing", st)
	}
	if st := pruneAt(t, s, store.Retention{}, day(1000)); st.RawMessages != 0 || st.Events != 0 {
		t.Errorf("zero retention: %+v, want nothing pruned", st)
	}
	if st := pruneAt(t, s, r, day(200)); st.RawMessages != 2 {
		t.Errorf("prune 100 days later: %+v, want the last 2", st)
	}
}

// A Rebuild replays a message whose raw bytes were pruned with its stored
// verdicts, without asking reobserve, and counts it.
func testPruneKeepsVerdictsForRebuild(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, Options{Now: func() time.Time { return day(100) }})
	recordIDs(t, s,
		bounce("a@example.com", "hard", day(0)),
		bounce("a@example.com", "hard", day(1)),
		bounce("b@example.com", "hard", day(95)),
		bounce("b@example.com", "hard", day(96)))
	pruneAt(t, s, store.Retention{RawMessages: 90 * 24 * time.Hour}, day(100))

	var asked []uint64
	stats, err := s.Rebuild(ctx, func(m store.StoredMessage) ([]store.Observation, error) {
		if m.Raw == nil {
			return nil, fmt.Errorf("reobserve called for message %d, whose raw bytes were pruned", m.ID)
		}
		asked = append(asked, m.ID)
		obs := slices.Clone(m.Observations)
		for i := range obs {
			obs[i].Class = "block" // a new classifier that suppresses no one
		}
		return obs, nil
	}, store.RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != 4 || stats.NotReread != 2 || len(asked) != 2 {
		t.Errorf("rebuild: %+v, reobserve asked for %v; want 4 replayed, 2 not re-read", stats, asked)
	}
	// a@ keeps the suppression its stored verdicts call for; b@'s re-read
	// messages no longer suppress it.
	if _, err := s.Suppression(ctx, "a@example.com"); err != nil {
		t.Errorf("a@example.com: %v, want still suppressed by its stored verdicts", err)
	}
	if _, err := s.Suppression(ctx, "b@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b@example.com: %v, want no longer suppressed", err)
	}
	msgs, err := s.Messages(ctx, 0, 0)
	if err != nil || len(msgs) != 4 || !msgs[0].RawPruned || msgs[0].Observations[0].Class != "hard" || msgs[2].Observations[0].Class != "block" {
		t.Errorf("messages after the rebuild: %+v, %v", msgs, err)
	}
}

// Events older than the retention, or beyond an address's latest K, go;
// admin events and the recipient's lifetime counts stay.
func testPruneEvents(t *testing.T, h Harness) {
	ctx := context.Background()
	now := day(0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := open(t, h, Options{Now: clock})
	for i := range 10 {
		recordIDs(t, s, bounce("a@example.com", "soft", day(float64(i))), bounce("b@example.com", "delayed", day(float64(i))))
		if i == 2 {
			mu.Lock()
			now = day(2.5)
			mu.Unlock()
			if _, _, err := s.SuppressAs(ctx, store.ActorAdmin, store.ManualSuppression{Address: "a@example.com", Detail: "asked"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.LiftAs(ctx, store.ActorAdmin, "a@example.com", "by mistake"); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	st := pruneAt(t, s, store.Retention{EventsPerRecipient: 3}, day(10))
	if st.Events != 14 {
		t.Errorf("keeping 3 events per address: pruned %+v, want 7 of each address's 10", st)
	}
	r, events, err := s.Recipient(ctx, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var times []float64
	admin := 0
	for _, e := range events {
		if e.Class == store.ClassAdmin {
			admin++
			continue
		}
		times = append(times, e.Time.Sub(t0).Hours()/24)
	}
	if admin != 2 || !slices.Equal(times, []float64{7, 8, 9}) {
		t.Errorf("a@example.com's history: %d admin events, others at days %v; want both admin events and days 7-9", admin, times)
	}
	if r.Counts["soft"] != 10 || !r.FirstBounce.Equal(day(0)) {
		t.Errorf("a@example.com's record: counts %v, first bounce %v; want the lifetime figures", r.Counts, r.FirstBounce)
	}
	after, err := s.Stats(ctx)
	if err != nil || after.Events != before.Events-14 {
		t.Errorf("Stats.Events %d after, %d before (%v); want 14 fewer", after.Events, before.Events, err)
	}

	st = pruneAt(t, s, store.Retention{Events: 60 * time.Hour}, day(10))
	if st.Events != 2 {
		t.Errorf("keeping 2.5 days of events: pruned %+v, want day 7 of each address", st)
	}
	if _, events, _ := s.Recipient(ctx, "b@example.com"); len(events) != 2 || !events[0].Time.Equal(day(8)) {
		t.Errorf("b@example.com's history: %+v, want days 8 and 9", events)
	}
	if st := pruneAt(t, s, store.DefaultRetention(), day(10)); st.Events != 0 {
		t.Errorf("the defaults on what is left: %+v, want nothing", st)
	}
}

// The activity counters of days no Activity reads go; the recent ones stay.
func testPruneCounters(t *testing.T, h Harness) {
	ctx := context.Background()
	now := day(500)
	s := open(t, h, Options{Now: func() time.Time { return now }})
	recordIDs(t, s, bounce("a@example.com", "hard", day(0)), bounce("b@example.com", "soft", day(499)))
	act, err := s.Activity(ctx, store.ActivityOptions{Days: store.MaxActivityDays})
	if err != nil {
		t.Fatal(err)
	}
	st := pruneAt(t, s, store.Retention{}, now)
	if st.Counters == 0 {
		t.Errorf("prune: %+v, want day 0's counters gone", st)
	}
	after, err := s.Activity(ctx, store.ActivityOptions{Days: store.MaxActivityDays})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after.Daily) != fmt.Sprint(act.Daily) || after.Windows[2].Total != 1 {
		t.Errorf("Activity changed:\n%+v\nbefore:\n%+v", after, act)
	}
	if st := pruneAt(t, s, store.Retention{}, now); st.Counters != 0 {
		t.Errorf("second prune: %+v", st)
	}
}

// Messages recorded while a Prune runs are all kept whole, and the prune
// deletes exactly the expired ones.
func testPruneWhileRecording(t *testing.T, h Harness) {
	ctx := context.Background()
	s := open(t, h, Options{})
	const old, fresh = 300, 100
	var msgs []store.Message
	for i := range old {
		msgs = append(msgs, bounce(fmt.Sprintf("old%d@example.com", i), "hard", day(float64(i)/1000)))
	}
	recordIDs(t, s, msgs...)
	var (
		wg  sync.WaitGroup
		st  store.PruneStats
		err error
	)
	wg.Go(func() { st, err = s.Prune(ctx, store.Retention{RawMessages: 24 * time.Hour}, day(2)) })
	for w := range 4 {
		wg.Go(func() {
			for i := range fresh / 4 {
				if _, err := s.Record(ctx, bounce(fmt.Sprintf("new%d-%d@example.com", w, i), "hard", day(1.5))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err != nil || st.RawMessages != old {
		t.Fatalf("prune: %+v, %v; want the %d old raw messages", st, err, old)
	}
	all, pruned := 0, 0
	for after := uint64(0); ; {
		page, err := s.Messages(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			all++
			if m.RawPruned {
				pruned++
				if m.Received.After(day(1)) {
					t.Errorf("message %d received %v: raw pruned", m.ID, m.Received)
				}
			} else if !bytes.Contains(m.Raw, []byte("Undelivered")) {
				t.Errorf("message %d: raw %q", m.ID, m.Raw)
			}
		}
		after = page[len(page)-1].ID
	}
	if all != old+fresh || pruned != old {
		t.Errorf("%d messages, %d of them pruned; want %d and %d", all, pruned, old+fresh, old)
	}
}

func testPruneRefuses(t *testing.T, h Harness) {
	s := open(t, h, Options{})
	recordIDs(t, s, bounce("a@example.com", "hard", day(0)))
	for _, r := range []store.Retention{{RawMessages: -time.Hour}, {Events: time.Minute}, {EventsPerRecipient: -1}} {
		if _, err := s.Prune(context.Background(), r, day(100)); err == nil {
			t.Errorf("Prune(%+v) accepted", r)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if st, err := s.Prune(ctx, store.DefaultRetention(), day(100)); !errors.Is(err, context.Canceled) || st.RawMessages != 0 {
		t.Errorf("Prune with a cancelled context: %+v, %v", st, err)
	}
	if _, err := s.RawMessage(context.Background(), 1); err != nil {
		t.Errorf("after the cancelled prune: %v", err)
	}
}
