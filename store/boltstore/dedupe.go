package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// Deduplication (see Writer.Record) keeps two buckets: bucketDedupe maps
// each Digest to when its message was received and its id, and
// bucketDedupeByTime orders the same Digests by that time so that those
// older than the window are found and deleted without a scan. Every
// commit deletes up to maxPrunePerCommit of them, more than any commit
// adds, so the buckets hold about one window of messages.
var (
	bucketDedupe       = []byte("dedupe")         // digest -> received (8 bytes, Unix ns BE), id (8 bytes)
	bucketDedupeByTime = []byte("dedupe_by_time") // received (8 bytes) digest -> nothing
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

// duplicateOf returns the id of the message recorded with digest at or
// after cutoff, if there is one.
func duplicateOf(tx *bolt.Tx, digest []byte, cutoff time.Time) (uint64, bool) {
	v := tx.Bucket(bucketDedupe).Get(digest)
	if len(v) != 16 || int64(binary.BigEndian.Uint64(v[:8])) < cutoff.UnixNano() {
		return 0, false
	}
	return binary.BigEndian.Uint64(v[8:]), true
}

// rememberDigest records that message id, received at at, has digest,
// replacing an expired record of the same digest.
func rememberDigest(tx *bolt.Tx, digest []byte, at time.Time, id uint64) error {
	dedupe, byTime := tx.Bucket(bucketDedupe), tx.Bucket(bucketDedupeByTime)
	if old := dedupe.Get(digest); len(old) == 16 {
		if err := byTime.Delete(append(bytes.Clone(old[:8]), digest...)); err != nil {
			return fmt.Errorf("dedupe: %w", err)
		}
	}
	if err := dedupe.Put(digest, append(nanos(at), u64(id)...)); err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	if err := byTime.Put(append(nanos(at), digest...), nil); err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	return nil
}

// pruneDigests deletes up to maxPrunePerCommit digests received before cutoff.
func pruneDigests(tx *bolt.Tx, cutoff time.Time) error {
	dedupe, byTime := tx.Bucket(bucketDedupe), tx.Bucket(bucketDedupeByTime)
	end := nanos(cutoff)
	c := byTime.Cursor()
	// After a Delete the cursor is re-seated with First: Next would skip.
	for n, k := 0, firstKey(c); n < maxPrunePerCommit && len(k) > 8 && bytes.Compare(k[:8], end) < 0; n, k = n+1, firstKey(c) {
		received, digest := k[:8], k[8:]
		if v := dedupe.Get(digest); len(v) == 16 && bytes.Equal(v[:8], received) {
			if err := dedupe.Delete(digest); err != nil {
				return fmt.Errorf("dedupe prune: %w", err)
			}
		}
		if err := byTime.Delete(k); err != nil {
			return fmt.Errorf("dedupe prune: %w", err)
		}
	}
	return nil
}

// firstKey returns a copy of the cursor's first key, or nil.
func firstKey(c *bolt.Cursor) []byte {
	k, _ := c.First()
	return bytes.Clone(k)
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
