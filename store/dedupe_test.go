package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func withDigest(m Message, digest string) Message {
	m.Digest = []byte(digest)
	return m
}

// A message received again within the window is acknowledged (its id and
// ErrDuplicate), noted on the first, and counted nowhere; after the
// window, or with another digest, it is a message of its own.
func TestRecordDeduplicates(t *testing.T) {
	db, path := openTest(t, Options{})
	ctx := context.Background()
	const alice = "alice@example.org"
	first := record(t, db, withDigest(bounce(alice, "hard", day(0)), "d1"))

	id, err := db.Record(ctx, withDigest(bounce(alice, "hard", day(1)), "d1"))
	if !errors.Is(err, ErrDuplicate) || id != first {
		t.Fatalf("the same digest again: %d, %v; want %d and ErrDuplicate", id, err, first)
	}
	// Across a restart too: the digest was committed with the message.
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if id, err := db.Record(ctx, withDigest(bounce(alice, "hard", day(2)), "d1")); !errors.Is(err, ErrDuplicate) || id != first {
		t.Fatalf("after reopening: %d, %v; want %d and ErrDuplicate", id, err, first)
	}
	r, events, err := db.Recipient(ctx, alice)
	if err != nil || len(events) != 1 || r.Counts["hard"] != 1 || r.Suppressed {
		t.Fatalf("after three copies of one bounce: %+v, %d events, %v; want one hard bounce, not suppressed (threshold 2)", r, len(events), err)
	}
	msgs, _ := db.Messages(ctx, 0, 0)
	if len(msgs) != 1 || msgs[0].Duplicates != 2 || !msgs[0].LastDuplicate.Equal(day(2)) {
		t.Errorf("messages %+v, want one with 2 duplicates, the last on day 2", msgs)
	}
	if st, _ := db.Stats(ctx); st.Duplicates != 2 || st.Messages != 1 {
		t.Errorf("stats %+v, want 1 message and 2 duplicates", st)
	}
	if audit, _, _ := db.Audit(ctx, AuditFilter{}, 0, 10); len(audit) != 0 {
		t.Errorf("audit %+v, want nothing", audit)
	}
	checkCounters(t, db)

	// Another bounce for the same address counts: two distinct messages.
	record(t, db, withDigest(bounce(alice, "hard", day(3)), "d2"))
	if s, err := db.Suppression(ctx, alice); err != nil || s.Reason != "hard" {
		t.Errorf("after two distinct hard bounces: %+v, %v; want suppressed", s, err)
	}
	// Past the window the same digest is a new message.
	late := day(3).Add(DefaultDuplicateWindow + time.Hour)
	if _, err := db.Record(ctx, withDigest(bounce(alice, "hard", late), "d1")); err != nil {
		t.Errorf("the first digest past the window: %v, want it recorded", err)
	}
	// A message without a digest is never a duplicate.
	record(t, db, bounce(alice, "hard", late))
	record(t, db, bounce(alice, "hard", late))
	checkCounters(t, db)

	// A rebuild keeps the count of duplicates.
	if _, err := db.Rebuild(ctx, keepObservations, RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := db.Messages(ctx, 0, 1); len(msgs) != 1 || msgs[0].Duplicates != 2 {
		t.Errorf("after a rebuild: %+v, want the first message with its 2 duplicates", msgs)
	}
	checkCounters(t, db)
}

// Concurrent copies of one message, which the group commit may put in one
// transaction, are recorded once.
func TestConcurrentDuplicates(t *testing.T) {
	db, _ := openTest(t, Options{})
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { _, errs[i] = db.Record(context.Background(), withDigest(bounce("a@example.org", "hard", day(0)), "same")) })
	}
	wg.Wait()
	recorded := 0
	for _, err := range errs {
		switch {
		case err == nil:
			recorded++
		case !errors.Is(err, ErrDuplicate):
			t.Fatal(err)
		}
	}
	if recorded != 1 {
		t.Errorf("%d of 16 copies recorded, want 1", recorded)
	}
	checkCounters(t, db)
}

// What deduplication keeps is bounded: digests older than the window are
// deleted as messages come in.
func TestDigestsArePruned(t *testing.T) {
	p := DefaultPolicy()
	p.DuplicateWindow = time.Hour
	db, _ := openTest(t, Options{Policy: p})
	var msgs []Message
	for i := range 3000 { // one a minute for 50 hours
		m := bounce(fmt.Sprintf("u%d@example.org", i%100), "soft", day(0).Add(time.Duration(i)*time.Minute))
		msgs = append(msgs, withDigest(m, fmt.Sprint("digest", i)))
	}
	recordMany(t, db, msgs)
	var kept, byTime int
	db.bolt.View(func(tx *bolt.Tx) error {
		kept, byTime = tx.Bucket(bucketDedupe).Stats().KeyN, tx.Bucket(bucketDedupeByTime).Stats().KeyN
		return nil
	})
	if kept != byTime || kept > 61 {
		t.Errorf("after 3000 messages over 50 hours, a window of 1h keeps %d digests (%d by time), want at most 61", kept, byTime)
	}
	// The ones kept still match.
	if _, err := db.Record(context.Background(), msgs[len(msgs)-1]); !errors.Is(err, ErrDuplicate) {
		t.Errorf("the latest message again: %v, want ErrDuplicate", err)
	}
}

// Past the raw quota a message is refused with ErrQuota and nothing of it
// is kept; a duplicate, which keeps nothing, is still acknowledged.
func TestRawQuota(t *testing.T) {
	db, _ := openTest(t, Options{})
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
	if _, err := db.Record(ctx, m3); !errors.Is(err, ErrQuota) {
		t.Fatalf("over the quota: %v, want ErrQuota", err)
	}
	if after, _ := db.Stats(ctx); after.Messages != before.Messages || after.RawBytes != before.RawBytes || after.RawBytes > quota {
		t.Errorf("stats %+v after a refusal, want %+v", after, before)
	}
	if _, _, err := db.Recipient(ctx, "c@example.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused message's recipient: %v, want ErrNotFound", err)
	}
	if id, err := db.Record(ctx, m); !errors.Is(err, ErrDuplicate) || id != first {
		t.Errorf("a duplicate over the quota: %d, %v; want ErrDuplicate for %d", id, err, first)
	}
	checkCounters(t, db)
}

// An advisory observation is history and counts, never policy.
func TestAdvisoryObservationsNeverSuppress(t *testing.T) {
	db, _ := openTest(t, Options{})
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
}
