package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/bouncesink/bouncesink/store"

	bolt "go.etcd.io/bbolt"
)

// Prune sizes. A prune transaction deletes at most pruneBatch entries, a
// millisecond or two of work, and goes through the group commit: under
// load it shares the transaction and the fsync of messages being
// recorded, so it never holds the writer for long and costs no fsync of
// its own. After each, Prune rests as long as the step took, so that a
// prune of a million raw messages takes at most half of the writer's time
// and of a CPU from the sessions being served (nothing is urgent about
// it). The events are scanned in read transactions of scanChunk keys,
// none of them open long enough to keep bbolt from reusing freed pages.
const (
	pruneBatch = 256
	scanChunk  = 4096
	// The raw messages recorded through the journal are references of
	// 21 bytes into its segments, not the bytes themselves: a transaction
	// deletes up to rawRefBatch of them, as many pages as pruneBatch
	// values kept inline, so that a million take a few hundred commits
	// (and fsyncs) rather than thousands.
	rawRefBatch = 8192
)

// keyEventsPruned in bucketMeta counts the events Prune deleted since the
// events bucket was last rebuilt (Stats.Events leaves them out).
var keyEventsPruned = []byte("events_pruned")

// Prune deletes what r says has expired at now; see store.Pruner.
func (db *DB) Prune(ctx context.Context, r store.Retention, now time.Time) (store.PruneStats, error) {
	var st store.PruneStats
	if err := r.Validate(); err != nil {
		return st, err
	}
	if !db.writers.TryRLock() {
		return st, fmt.Errorf("store: prune: %w", store.ErrRebuilding)
	}
	defer db.writers.RUnlock()
	err := func() error {
		if r.RawMessages > 0 {
			if err := db.pruneRaw(ctx, now.Add(-r.RawMessages), &st); err != nil {
				return fmt.Errorf("raw messages: %w", err)
			}
		}
		if r.Events > 0 || r.EventsPerRecipient > 0 {
			var cutoff time.Time
			if r.Events > 0 {
				cutoff = now.Add(-r.Events)
			}
			if err := db.pruneEvents(ctx, cutoff, r.EventsPerRecipient, &st); err != nil {
				return fmt.Errorf("events: %w", err)
			}
		}
		if err := db.pruneDays(ctx, now, &st); err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		return nil
	}()
	if err != nil {
		return st, fmt.Errorf("store: prune: %w", err)
	}
	return st, nil
}

// pruneTx runs fn in the group commit, after checking ctx, then rests
// as long as that took.
func (db *DB) pruneTx(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	if err := db.commits.do(fn); err != nil {
		return err
	}
	rest := time.NewTimer(time.Since(start))
	defer rest.Stop()
	select {
	case <-ctx.Done():
	case <-rest.C:
	}
	return nil
}

// pruneRaw deletes the raw bytes of the messages received before cutoff,
// oldest first, stopping at the first message received at or after it.
func (db *DB) pruneRaw(ctx context.Context, cutoff time.Time, st *store.PruneStats) error {
	for {
		// The group commit may run fn more than once: it sets its results
		// afresh each time.
		var n int
		var size int64
		var done bool
		var rawSize uint64 // as received, for Stats.RawBytes
		err := db.pruneTx(ctx, func(tx *bolt.Tx) error {
			n, size, done, rawSize = 0, 0, false, 0
			raw, heads := tx.Bucket(bucketRaw), tx.Bucket(bucketMessages)
			var keys [][]byte
			c := raw.Cursor()
			k, v := c.First()
			var inline int // values kept inline
			for ; k != nil && inline < pruneBatch && len(keys) < rawRefBatch; k, v = c.Next() {
				if len(k) != 8 {
					return fmt.Errorf("raw message key %x: not an id", k)
				}
				id := binary.BigEndian.Uint64(k)
				if head := heads.Get(k); head != nil {
					at, err := headReceived(id, head)
					if err != nil {
						return err
					}
					if !at.Before(cutoff) {
						break
					}
					rec, err := decodeHead(id, head)
					if err != nil {
						return err
					}
					rawSize += uint64(max(rec.RawSize, 0))
				}
				// Raw bytes without a message record are no one's: they go too.
				keys = append(keys, bytes.Clone(k))
				size += storedRawLen(v)
				if !isRawRef(v) {
					inline++
				}
			}
			// Done unless a batch limit stopped the walk.
			done = k == nil || (inline < pruneBatch && len(keys) < rawRefBatch)
			for _, k := range keys {
				if err := raw.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			return subRawBytes(tx.Bucket(bucketMeta), rawSize)
		})
		if err != nil {
			return err
		}
		st.RawMessages += n
		st.RawBytes += size
		db.rawBytes.Add(-int64(rawSize))
		if done {
			if _, err := db.dropSegments(ctx); err != nil {
				return fmt.Errorf("journal segments: %w", err)
			}
			return nil
		}
	}
}

// storedRawLen is the size on disk of the raw message a bucketRaw value
// holds or, for a rawRef, refers to.
func storedRawLen(v []byte) int64 {
	if isRawRef(v) {
		return int64(binary.BigEndian.Uint32(v[17:]))
	}
	return int64(len(v))
}

// pruneEvents deletes the events older than cutoff (unless zero) or beyond
// an address's latest keep (unless zero), admin events aside. It walks the
// history backwards, newest first within each address, a chunk of keys per
// read transaction, and deletes what it found in write transactions of
// pruneBatch keys.
func (db *DB) pruneEvents(ctx context.Context, cutoff time.Time, keep int, st *store.PruneStats) error {
	var (
		pos    []byte // the last key looked at; nil before the first chunk
		prefix []byte // of the address being walked
		kept   int    // its events kept so far
	)
	for {
		var expired [][]byte
		last := false
		err := db.bolt.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketEvents).Cursor()
			var k, v []byte
			if pos == nil {
				k, v = c.Last()
			} else {
				k, v = seekBelow(c, pos)
			}
			for n := 0; ; k, v = c.Prev() {
				if k == nil {
					last = true
					return nil
				}
				if len(k) < 9 {
					return fmt.Errorf("event key %q: too short", k)
				}
				if p := k[:len(k)-8]; !bytes.Equal(p, prefix) {
					prefix, kept = bytes.Clone(p), 0
				}
				admin, err := isAdminEvent(k, v)
				if err != nil {
					return err
				}
				if !admin {
					at, err := storedEventTime(k, v)
					if err != nil {
						return err
					}
					if (keep > 0 && kept >= keep) || at.Before(cutoff) {
						expired = append(expired, bytes.Clone(k))
					} else {
						kept++
					}
				}
				if n++; n == scanChunk {
					pos = bytes.Clone(k)
					return nil
				}
			}
		})
		if err != nil {
			return err
		}
		for len(expired) > 0 {
			batch := expired[:min(len(expired), pruneBatch)]
			expired = expired[len(batch):]
			var deleted int
			err := db.pruneTx(ctx, func(tx *bolt.Tx) error {
				deleted = 0
				events, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
				for _, k := range batch {
					if events.Get(k) == nil {
						continue // a Rebuild replaced the history meanwhile
					}
					if err := events.Delete(k); err != nil {
						return err
					}
					deleted++
				}
				return meta.Put(keyEventsPruned, u64(getU64(meta, keyEventsPruned)+uint64(deleted)))
			})
			if err != nil {
				return err
			}
			st.Events += deleted
		}
		if last {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// pruneDays deletes the day counters that no Activity reads any more:
// those of the days before the last MaxActivityDays.
func (db *DB) pruneDays(ctx context.Context, now time.Time, st *store.PruneStats) error {
	today := dayOf(now)
	if today < store.MaxActivityDays {
		return nil
	}
	end := periodKey(granDay, today-(store.MaxActivityDays-1), 0)
	for {
		var n int
		err := db.pruneTx(ctx, func(tx *bolt.Tx) error {
			n = 0
			counters := tx.Bucket(bucketCounters)
			c := counters.Cursor()
			var keys [][]byte
			for k, _ := c.Seek([]byte{granDay}); k != nil && bytes.Compare(k, end) < 0 && len(keys) < pruneBatch; k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := counters.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		if err != nil {
			return err
		}
		st.Counters += n
		if n < pruneBatch {
			return nil
		}
	}
}
