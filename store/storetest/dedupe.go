package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// needDedupe skips a test of Record's deduplication, quota and raw byte
// count on an engine that does not implement them yet.
func needDedupe(t *testing.T, h Harness) {
	t.Helper()
	if !h.Dedupe {
		t.Skip("this engine does not implement Message.Digest, Message.RawQuota and Stats.RawBytes/Duplicates " +
			"(store.Writer.Record) yet")
	}
}

func withDigest(m store.Message, digest string) store.Message {
	m.Digest = []byte(digest)
	return m
}

// An advisory observation is history and counts, never policy.
func testAdvisoryNeverSuppresses(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	for i, class := range []string{"hard", "hard", "hard", "complaint"} {
		m := bounce("a@example.org", class, day(float64(i)))
		m.Observations[0].Advisory = true
		record(t, db, m)
	}
	r, events, err := db.Recipient(ctx, "a@example.org")
	if err != nil || r.Suppressed || r.Counts["hard"] != 3 || r.Counts["complaint"] != 1 || len(r.HardTimes) != 0 || r.Complaints != 0 {
		t.Fatalf("after advisory bounces: %+v, %v; want them counted and the address not suppressed", r, err)
	}
	if len(events) != 4 || !events[0].Advisory {
		t.Errorf("events %+v, want 4, marked advisory", events)
	}
	if msgs := allMessages(t, db); len(msgs) != 4 || !msgs[0].Observations[0].Advisory {
		t.Errorf("messages %+v, want the observations marked advisory", msgs)
	}
}

// A message received again within the window is acknowledged (its id and
// ErrDuplicate), noted on the first, and counted nowhere; after the
// window, or with another digest, it is a message of its own.
func testRecordDeduplicates(t *testing.T, h Harness) {
	needDedupe(t, h)
	db, o := openWith(t, h, Options{})
	ctx := context.Background()
	const alice = "alice@example.org"
	first := record(t, db, withDigest(bounce(alice, "hard", day(0)), "d1"))
	id, err := db.Record(ctx, withDigest(bounce(alice, "hard", day(1)), "d1"))
	if !errors.Is(err, store.ErrDuplicate) || id != first {
		t.Fatalf("the same digest again: %d, %v; want %d and ErrDuplicate", id, err, first)
	}
	// Across a restart too: the digest was committed with the message.
	db.Close()
	db = reopen(t, o, Options{})
	if id, err := db.Record(ctx, withDigest(bounce(alice, "hard", day(2)), "d1")); !errors.Is(err, store.ErrDuplicate) || id != first {
		t.Fatalf("after reopening: %d, %v; want %d and ErrDuplicate", id, err, first)
	}
	r, events, err := db.Recipient(ctx, alice)
	if err != nil || len(events) != 1 || r.Counts["hard"] != 1 || r.Suppressed {
		t.Fatalf("after three copies of one bounce: %+v, %d events, %v; want one hard bounce, not suppressed (threshold 2)", r, len(events), err)
	}
	msgs := allMessages(t, db)
	if len(msgs) != 1 || msgs[0].Duplicates != 2 || !msgs[0].LastDuplicate.Equal(day(2)) {
		t.Errorf("messages %+v, want one with 2 duplicates, the last on day 2", msgs)
	}
	if st, _ := db.Stats(ctx); st.Duplicates != 2 || st.Messages != 1 {
		t.Errorf("stats %+v, want 1 message and 2 duplicates", st)
	}
	if audit, _, _ := db.Audit(ctx, store.AuditFilter{}, 0, 10); len(audit) != 0 {
		t.Errorf("audit %+v, want nothing", audit)
	}

	// Another bounce for the same address counts: two distinct messages.
	record(t, db, withDigest(bounce(alice, "hard", day(3)), "d2"))
	if s, err := db.Suppression(ctx, alice); err != nil || s.Reason != "hard" {
		t.Errorf("after two distinct hard bounces: %+v, %v; want suppressed", s, err)
	}
	// Past the window the same digest is a new message.
	late := day(3).Add(store.DefaultDuplicateWindow + time.Hour)
	if _, err := db.Record(ctx, withDigest(bounce(alice, "hard", late), "d1")); err != nil {
		t.Errorf("the first digest past the window: %v, want it recorded", err)
	}
	// A message without a digest is never a duplicate.
	record(t, db, bounce(alice, "hard", late))
	record(t, db, bounce(alice, "hard", late))
	checkStats(t, db, []string{alice})

	// A rebuild keeps the count of duplicates.
	keep := func(m store.StoredMessage) ([]store.Observation, error) { return m.Observations, nil }
	if _, err := db.Rebuild(ctx, keep, store.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if msgs := allMessages(t, db); len(msgs) != 5 || msgs[0].Duplicates != 2 {
		t.Errorf("after a rebuild: %+v, want the first message with its 2 duplicates", msgs)
	}
	if st, _ := db.Stats(ctx); st.Duplicates != 2 {
		t.Errorf("stats after a rebuild %+v, want 2 duplicates", st)
	}
	// With DuplicateWindow 0 nothing is a duplicate.
	p := store.DefaultPolicy()
	p.DuplicateWindow = 0
	off := open(t, h, Options{Policy: p})
	for range 2 {
		record(t, off, withDigest(bounce(alice, "hard", day(0)), "d1"))
	}
}

// Concurrent copies of one message, which an engine may commit in one
// transaction, are recorded once.
func testConcurrentDuplicates(t *testing.T, h Harness) {
	needDedupe(t, h)
	db := open(t, h, Options{})
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = db.Record(context.Background(), withDigest(bounce("a@example.org", "hard", day(0)), "same"))
		})
	}
	wg.Wait()
	recorded := 0
	for _, err := range errs {
		switch {
		case err == nil:
			recorded++
		case !errors.Is(err, store.ErrDuplicate):
			t.Fatal(err)
		}
	}
	if recorded != 1 {
		t.Errorf("%d of 16 copies recorded, want 1", recorded)
	}
	checkStats(t, db, []string{"a@example.org"})
}

// Past the raw quota a message is refused with ErrQuota and nothing of it
// is kept; a duplicate, which keeps nothing, is still acknowledged.
func testRawQuota(t *testing.T, h Harness) {
	needDedupe(t, h)
	db := open(t, h, Options{})
	ctx := context.Background()
	m := withDigest(bounce("a@example.org", "soft", day(0)), "first")
	quota := int64(2*len(m.Raw) + 10)
	m.RawQuota = quota
	first := record(t, db, m)
	m2 := withDigest(bounce("b@example.org", "soft", day(0)), "second")
	m2.RawQuota = quota
	record(t, db, m2)
	before, _ := db.Stats(ctx)
	m3 := withDigest(bounce("c@example.org", "soft", day(0)), "third")
	m3.RawQuota = quota
	if _, err := db.Record(ctx, m3); !errors.Is(err, store.ErrQuota) {
		t.Fatalf("over the quota: %v, want ErrQuota", err)
	}
	if after, _ := db.Stats(ctx); after.Messages != before.Messages || after.RawBytes != before.RawBytes || after.RawBytes > quota {
		t.Errorf("stats %+v after a refusal, want %+v", after, before)
	}
	if _, _, err := db.Recipient(ctx, "c@example.org"); !notFound(err) {
		t.Errorf("the refused message's recipient: %v, want ErrNotFound", err)
	}
	if id, err := db.Record(ctx, m); !errors.Is(err, store.ErrDuplicate) || id != first {
		t.Errorf("a duplicate over the quota: %d, %v; want ErrDuplicate for %d", id, err, first)
	}
}

// Stats.RawBytes is the sum of the sizes of the raw messages kept, across
// a reopen, a rebuild and the retention's pruning.
func testRawBytes(t *testing.T, h Harness) {
	needDedupe(t, h)
	db, o := openWith(t, h, Options{})
	ctx := context.Background()
	var want int64
	var sizes []int64
	for i, class := range []string{"hard", "soft", "complaint", "block"} {
		m := bounce("a@example.org", class, day(float64(i)))
		m.Raw = append(m.Raw, make([]byte, 100*i)...)
		record(t, db, m)
		want += int64(len(m.Raw))
		sizes = append(sizes, int64(len(m.Raw)))
	}
	check := func(when string) {
		t.Helper()
		if st, err := db.Stats(ctx); err != nil || st.RawBytes != want {
			t.Errorf("%s: RawBytes %d, %v; want %d", when, st.RawBytes, err, want)
		}
	}
	check("after recording")
	db.Close()
	db = reopen(t, o, Options{})
	check("after reopening")
	keep := func(m store.StoredMessage) ([]store.Observation, error) { return m.Observations, nil }
	if _, err := db.Rebuild(ctx, keep, store.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild")
	// The retention prunes the raw bytes of the first two (days 0 and 1):
	// they are no longer kept, so no longer counted against the quota.
	pruneAt(t, db, store.Retention{RawMessages: 48 * time.Hour}, day(3).Add(time.Hour))
	want -= sizes[0] + sizes[1]
	check("after pruning two raw messages")
	if _, err := db.Rebuild(ctx, keep, store.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild of pruned messages")
	db.Close()
	db = reopen(t, o, Options{})
	check("after reopening")
}

// Copies of one message reaching two instances at once (a sending MTA
// that retried on the other MX after a lost reply) are recorded once.
func testInstancesDeduplicate(t *testing.T, h Harness) {
	needDedupe(t, h)
	a, o := openWith(t, h, Options{})
	b := reopen(t, o, Options{})
	var wg sync.WaitGroup
	errs := make([]error, 16)
	ids := make([]uint64, 16)
	for i := range errs {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			ids[i], errs[i] = db.Record(context.Background(), withDigest(bounce("a@example.org", "complaint", day(0)), "retried"))
		})
	}
	wg.Wait()
	recorded := 0
	for i, err := range errs {
		switch {
		case err == nil:
			recorded++
		case !errors.Is(err, store.ErrDuplicate):
			t.Fatal(err)
		}
		if ids[i] != ids[0] {
			t.Errorf("copy %d: message %d, copy 0: %d; want the one message", i, ids[i], ids[0])
		}
	}
	if recorded != 1 {
		t.Errorf("%d of 16 copies recorded, want 1", recorded)
	}
	for _, db := range []store.Store{a, b} {
		msgs := allMessages(t, db)
		if len(msgs) != 1 || msgs[0].Duplicates != 15 {
			t.Errorf("messages %+v, want one with 15 duplicates", msgs)
		}
		if st, err := db.Stats(context.Background()); err != nil || st.Messages != 1 || st.Duplicates != 15 || st.Suppressed != 1 {
			t.Errorf("stats %+v, %v", st, err)
		}
	}
	checkStats(t, a, []string{"a@example.org"})
}
