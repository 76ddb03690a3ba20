package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// Past its size the index forgets the oldest digests first: the newest
// are still caught, after a reopen too, and memory stays bounded.
func TestDigestIndexBounded(t *testing.T) {
	const size = 100
	db, path := openTest(t, Options{DigestIndexSize: size})
	var msgs []store.Message
	for i := range 1000 { // one a minute: all within the window
		m := bounce(fmt.Sprintf("u%d@example.org", i), "soft", day(0).Add(time.Duration(i)*time.Minute))
		msgs = append(msgs, withDigest(m, fmt.Sprint("digest", i)))
	}
	for i := 0; i < len(msgs); i += 50 { // in transactions of 50, as a group commit would
		recordMany(t, db, msgs[i:i+50])
	}
	check := func(when string) {
		t.Helper()
		if n := db.digests.len(); n > size || n < size*9/10 {
			t.Errorf("%s: %d digests in memory, want at most %d and not far fewer", when, n, size)
		}
		for i := len(msgs) - size*9/10; i < len(msgs); i++ {
			if id, err := db.Record(context.Background(), msgs[i]); !errors.Is(err, store.ErrDuplicate) || id != uint64(i+1) {
				t.Fatalf("%s: message %d again: %d, %v; want ErrDuplicate of %d", when, i, id, err, i+1)
			}
		}
	}
	check("after 1,000 messages")
	// The oldest are forgotten, and so recorded again.
	if _, err := db.Record(context.Background(), msgs[0]); err != nil {
		t.Errorf("the oldest message again: %v, want it recorded (past the index's size)", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	if db, err = Open(path, Options{DigestIndexSize: size}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check("after reopening")
	checkCounters(t, db)
}

// A transaction that rolls back leaves the index as it was.
func TestDigestIndexRollback(t *testing.T) {
	db, _ := openTest(t, Options{})
	m := withDigest(bounce("a@example.org", "hard", day(0)), "d1")
	errRollback := errors.New("roll back")
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		at := m.Received.UTC()
		head, targets, err := prepareHead(messageRecord{Received: at, RawSize: len(m.Raw)}, m.Observations)
		if err != nil {
			return err
		}
		if _, err := db.recordTx(tx, nil, recordIn{id: nextID(tx), at: at, head: head, targets: targets, digest: m.Digest}); err != nil {
			return err
		}
		if n := db.digests.len(); n != 0 {
			t.Errorf("%d digests in memory before the commit, want 0", n)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if n := db.digests.len(); n != 0 {
		t.Errorf("%d digests in memory after a rollback, want 0", n)
	}
	first := record(t, db, m)
	if n := db.digests.len(); n != 1 {
		t.Errorf("%d digests in memory after a commit, want 1", n)
	}
	if id, err := db.Record(context.Background(), m); !errors.Is(err, store.ErrDuplicate) || id != first {
		t.Errorf("the message again: %d, %v; want ErrDuplicate of %d", id, err, first)
	}
}

// A file written before the digest index, with its bucket keyed by digest,
// opens and still deduplicates what it recorded; the old bucket goes.
func TestOldDedupeBucketMigrates(t *testing.T) {
	db, path := openTest(t, Options{})
	var ids []uint64
	for i := range 3 {
		ids = append(ids, record(t, db, withDigest(bounce("a@example.org", "soft", day(float64(i))), fmt.Sprint("d", i))))
	}
	// Rewrite the digests as the code before wrote them: digest ->
	// received, id in bucketDedupeOld, and nothing but the key in
	// bucketDedupeByTime. One key by time has lost its digest: it goes.
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		old, err := tx.CreateBucket(bucketDedupeOld)
		if err != nil {
			return err
		}
		byTime := tx.Bucket(bucketDedupeByTime)
		var keys, values [][]byte
		byTime.ForEach(func(k, v []byte) error {
			keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v))
			return nil
		})
		for i, k := range keys {
			if err := old.Put(k[8:], append(k[:8:8], values[i]...)); err != nil {
				return err
			}
			if err := byTime.Put(k, nil); err != nil {
				return err
			}
		}
		return byTime.Put(append(nanos(day(2)), "orphan"...), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, id := range ids {
		got, err := db.Record(context.Background(), withDigest(bounce("a@example.org", "soft", day(3)), fmt.Sprint("d", i)))
		if !errors.Is(err, store.ErrDuplicate) || got != id {
			t.Errorf("digest %d again: %d, %v; want ErrDuplicate of %d", i, got, err, id)
		}
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketDedupeOld) != nil {
			t.Error("the old bucket is still there")
		}
		if n := tx.Bucket(bucketDedupeByTime).Stats().KeyN; n != len(ids) {
			t.Errorf("%d digests by time, want %d", n, len(ids))
		}
		return nil
	})
	checkCounters(t, db)
}

// BenchmarkDigestIndexMemory fills an index to its default size and
// reports the heap it takes per digest.
func BenchmarkDigestIndexMemory(b *testing.B) {
	var ms runtime.MemStats
	for range b.N {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		ix := &digestIndex{seed: maphash.MakeSeed(), at: make(map[uint64]int64)}
		for i := range DefaultDigestIndexSize {
			ix.at[ix.hash(fmt.Appendf(nil, "digest %d", i))] = int64(i)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-before)/DefaultDigestIndexSize, "B/digest")
		b.ReportMetric(float64(ms.HeapAlloc-before)/(1<<20), "MB")
		runtime.KeepAlive(ix)
	}
}

// BenchmarkLoadDigestIndex measures what a full index adds to Open: the
// walk of DefaultDigestIndexSize digests (SHA-256 sized) on disk.
func BenchmarkLoadDigestIndex(b *testing.B) {
	db, _ := openTest(b, Options{})
	at := day(0).UnixNano()
	for n := 0; n < DefaultDigestIndexSize; {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			byTime := inOrder(tx.Bucket(bucketDedupeByTime))
			for end := n + 100_000; n < end && n < DefaultDigestIndexSize; n++ {
				digest := sha256.Sum256(fmt.Appendf(nil, "message %d", n))
				if err := byTime.Put(append(u64(uint64(at+int64(n)*int64(time.Millisecond))), digest[:]...), u64(uint64(n+1))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		ix, err := loadDigestIndex(db.bolt, 0)
		if err != nil || ix.len() != DefaultDigestIndexSize {
			b.Fatalf("%v, %d digests loaded", err, ix.len())
		}
	}
}
