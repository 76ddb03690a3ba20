package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// Deduplication (see Writer.Record) keeps one bucket on disk,
// bucketDedupeByTime, which orders the Digests of the messages recorded by
// when they were received, with their ids: new keys land at its right
// edge and the pruning of those older than the window at its left, so a
// commit rewrites a page or two of it however many messages it carries.
// Every commit deletes up to maxPrunePerCommit of them, more than any
// commit adds, so the bucket holds about one window of messages. What
// finds a Digest among them is a map in memory (digestIndex), filled from
// the bucket at Open.
//
// Files written before kept a second bucket, bucketDedupeOld, keyed by
// the Digests themselves; Open moves its ids into bucketDedupeByTime and
// deletes it (migrateDedupe).
var (
	bucketDedupeByTime = []byte("dedupe_by_time") // received (8 bytes, Unix ns BE) digest -> id (8 bytes BE)
	bucketDedupeOld    = []byte("dedupe")         // digest -> received, id; files written before the digestIndex
)

const (
	maxDigestLen      = 64
	maxPrunePerCommit = 2 * maxGroup
)

// The counters behind Stats.RawBytes and Stats.Duplicates, in bucketMeta.
// Files written before them are counted once by Open (countRawBytes).
var (
	keyRawBytes   = []byte("raw_bytes")
	keyRawCounted = []byte("raw_counted")
	keyDuplicates = []byte("duplicates")
)

func nanos(t time.Time) []byte { return u64(uint64(t.UnixNano())) }

// rememberDigest records that message id, received at at, has digest,
// replacing an expired record of the same digest.
func (db *DB) rememberDigest(tx *bolt.Tx, digest []byte, at time.Time, id uint64) error {
	byTime := inOrder(tx.Bucket(bucketDedupeByTime))
	if old, ok := db.digests.lookup(tx, db.digests.hash(digest)); ok {
		key := append(u64(uint64(old)), digest...)
		if byTime.Get(key) != nil {
			if err := byTime.Delete(key); err != nil {
				return fmt.Errorf("dedupe: %w", err)
			}
			db.digests.remove(tx, key)
		}
	}
	key := append(nanos(at), digest...)
	if err := byTime.Put(key, u64(id)); err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	db.digests.add(tx, byTime, key)
	return nil
}

// pruneDigests deletes up to maxPrunePerCommit digests received before cutoff.
func (db *DB) pruneDigests(tx *bolt.Tx, cutoff time.Time) error {
	byTime := tx.Bucket(bucketDedupeByTime)
	end := nanos(cutoff)
	c := byTime.Cursor()
	// After a Delete the cursor is re-seated with First: Next would skip.
	for n, k := 0, firstKey(c); n < maxPrunePerCommit && len(k) >= 8 && bytes.Compare(k[:8], end) < 0; n, k = n+1, firstKey(c) {
		if err := byTime.Delete(k); err != nil {
			return fmt.Errorf("dedupe prune: %w", err)
		}
		if len(k) > 8 {
			db.digests.remove(tx, k)
		}
	}
	return nil
}

// firstKey returns a copy of the cursor's first key, or nil.
func firstKey(c *bolt.Cursor) []byte {
	k, _ := c.First()
	return bytes.Clone(k)
}

// migrateDedupe gives the digests of a file written before the digestIndex
// their ids from bucketDedupeOld, which it then deletes.
func migrateDedupe(tx *bolt.Tx) error {
	old := tx.Bucket(bucketDedupeOld)
	if old == nil {
		return nil
	}
	byTime := tx.Bucket(bucketDedupeByTime)
	var keys [][]byte
	byTime.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range keys {
		var err error
		if v := old.Get(k[min(8, len(k)):]); len(k) > 8 && len(v) == 16 && bytes.Equal(v[:8], k[:8]) {
			err = byTime.Put(k, bytes.Clone(v[8:]))
		} else {
			err = byTime.Delete(k)
		}
		if err != nil {
			return fmt.Errorf("dedupe: migrate: %w", err)
		}
	}
	if err := tx.DeleteBucket(bucketDedupeOld); err != nil {
		return fmt.Errorf("dedupe: migrate: %w", err)
	}
	return nil
}

// noteDuplicate counts a repeat of message id, received at at.
func noteDuplicate(tx *bolt.Tx, id uint64, at time.Time) error {
	messages := tx.Bucket(bucketMessages)
	v := messages.Get(u64(id))
	if v == nil {
		return nil // a message deleted since: nothing to note it on
	}
	rec, err := decodeHead(id, v)
	if err != nil {
		return err
	}
	rec.Duplicates++
	if at.After(rec.LastDuplicate) {
		rec.LastDuplicate = at
	}
	obs := make([]store.Observation, len(rec.Observations))
	for i, o := range rec.Observations {
		obs[i] = store.Observation(o)
	}
	head, err := encodeHead(rec, obs)
	if err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	if err := messages.Put(u64(id), head); err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	meta := tx.Bucket(bucketMeta)
	return meta.Put(keyDuplicates, u64(getU64(meta, keyDuplicates)+1))
}

// countRawBytes counts keyRawBytes and keyDuplicates from the stored
// messages (the raw sizes of those whose raw bytes the retention has not
// pruned), for files written before the counters existed (once: force
// false) and after a Load (force true).
func countRawBytes(tx *bolt.Tx, force bool) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyRawCounted) != nil && !force {
		return nil
	}
	var total, duplicates uint64
	raws := tx.Bucket(bucketRaw)
	err := tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
		rec, err := decodeHead(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return err
		}
		if raws.Get(k) != nil {
			total += uint64(max(rec.RawSize, 0))
		}
		duplicates += uint64(max(rec.Duplicates, 0))
		return nil
	})
	if err != nil {
		return fmt.Errorf("count raw bytes: %w", err)
	}
	if err := meta.Put(keyRawBytes, u64(total)); err != nil {
		return err
	}
	if err := meta.Put(keyDuplicates, u64(duplicates)); err != nil {
		return err
	}
	return meta.Put(keyRawCounted, []byte("1"))
}

// subRawBytes takes n from keyRawBytes (the retention pruned raw bytes).
func subRawBytes(meta *bolt.Bucket, n uint64) error {
	return meta.Put(keyRawBytes, u64(getU64(meta, keyRawBytes)-min(n, getU64(meta, keyRawBytes))))
}
