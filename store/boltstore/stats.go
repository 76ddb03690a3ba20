package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/bouncesink/bouncesink/store"

	bolt "go.etcd.io/bbolt"
)

// Stats returns the sizes of the store. It reads counters kept up to date
// by every write, not the data, so its cost does not grow with the store
// (fit for a health check).
func (db *DB) Stats(ctx context.Context) (store.Stats, error) {
	if err := ctx.Err(); err != nil {
		return store.Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	st := store.Stats{SuppressedByReason: make(map[string]int)}
	err := db.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st.Messages = int(tx.Bucket(bucketMessages).Sequence())
		st.Recipients = int(tx.Bucket(bucketRecipients).Sequence())
		st.Events = int(tx.Bucket(bucketEvents).Sequence() - getU64(meta, keyEventsBase) - getU64(meta, keyEventsPruned))
		st.RawBytes = int64(getU64(meta, keyRawBytes))
		st.Duplicates = int(getU64(meta, keyDuplicates))
		c := meta.Cursor()
		for k, v := c.Seek(prefixSuppressed); k != nil && bytes.HasPrefix(k, prefixSuppressed); k, v = c.Next() {
			if n := int(binary.BigEndian.Uint64(v)); n != 0 {
				st.SuppressedByReason[string(k[len(prefixSuppressed):])] = n
				st.Suppressed += n
			}
		}
		return nil
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	return st, nil
}

// The counters behind Stats:
//   - messages: bucketMessages' sequence, which hands out the ids (messages
//     are never deleted);
//   - recipients: bucketRecipients' sequence, advanced by saveRecipient
//     when it creates a record (recipients are never deleted);
//   - events: bucketEvents' sequence less keyEventsBase, the sequence a
//     Rebuild started its new events at, and less keyEventsPruned, the
//     events Prune deleted since (events are otherwise only replaced by a
//     Rebuild, which resets both);
//   - suppressions: one 8-byte count per reason under prefixSuppressed in
//     bucketMeta, kept by suppressTx and applyLift.
//
// Files written before the counters existed are counted once by Open.
var (
	keyCounted       = []byte("counted")
	keyEventsBase    = []byte("events_base")
	prefixSuppressed = []byte("suppressed/")
)

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// addSuppressed adds delta to the count of suppressions for reason.
func addSuppressed(meta *bolt.Bucket, reason string, delta int) error {
	k := append(bytes.Clone(prefixSuppressed), reason...)
	n := int64(getU64(meta, k)) + int64(delta)
	if n < 0 {
		n = 0
	}
	if err := meta.Put(k, u64(uint64(n))); err != nil {
		return fmt.Errorf("suppression counter: %w", err)
	}
	return nil
}

// setSuppressedCounts replaces every suppression counter with counts.
func setSuppressedCounts(meta *bolt.Bucket, counts map[string]int) error {
	c := meta.Cursor()
	for k, _ := c.Seek(prefixSuppressed); k != nil && bytes.HasPrefix(k, prefixSuppressed); k, _ = c.Seek(prefixSuppressed) {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("suppression counter: %w", err)
		}
	}
	for reason, n := range counts {
		if err := addSuppressed(meta, reason, n); err != nil {
			return err
		}
	}
	return nil
}

// countAll sets every counter from the data, for a file written before
// they existed.
func countAll(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	recipients := tx.Bucket(bucketRecipients)
	if err := recipients.SetSequence(uint64(recipients.Stats().KeyN)); err != nil {
		return fmt.Errorf("count recipients: %w", err)
	}
	events := tx.Bucket(bucketEvents)
	if err := meta.Put(keyEventsBase, u64(events.Sequence()-uint64(events.Stats().KeyN))); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	if err := meta.Delete(keyEventsPruned); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	counts, err := countSuppressed(tx.Bucket(bucketSuppressions))
	if err != nil {
		return err
	}
	if err := setSuppressedCounts(meta, counts); err != nil {
		return err
	}
	return meta.Put(keyCounted, []byte("1"))
}

// countSuppressed counts the suppressions in b by reason.
func countSuppressed(b *bolt.Bucket) (map[string]int, error) {
	counts := make(map[string]int)
	err := b.ForEach(func(k, v []byte) error {
		s, err := decodeSuppression(k, v)
		if err != nil {
			return err
		}
		counts[s.Reason]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count suppressions: %w", err)
	}
	return counts, nil
}
