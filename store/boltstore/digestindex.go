package boltstore

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// DefaultDigestIndexSize is how many digests the duplicate index keeps in
// memory by default (Options.DigestIndexSize): about 3 weeks at one
// message a second, and 30-40 MB of heap when full (see
// BenchmarkDigestIndexMemory).
const DefaultDigestIndexSize = 1 << 20

// digestIndex is the in-memory half of the duplicate index: a map from a
// 64-bit hash of each Digest in bucketDedupeByTime to when its message was
// received, so that a lookup reads the one key it names on disk rather
// than keeping a B-tree keyed by the random digests, whose every insert
// rewrites a leaf page (and its branch pages) of its own.
//
// The hash is keyed with a seed drawn at Open, so no sender can make two
// digests collide on purpose; a chance collision of two live digests
// (about one in 10^7 at a million of them) only makes one of them
// unfindable, and a hit is always checked against the full digest on disk.
//
// The map is bounded by size: past it, the oldest digests are dropped
// first (those in the bucket below floor), so only a retransmission of
// the oldest messages of a window fuller than size could count twice.
//
// Its changes follow the transaction: a write transaction collects them
// in a txChanges, applied by the transaction's commit handler, so a
// transaction that rolls back (a failed commit, or a group commit retried
// without one writer) leaves the map as it was. The handler runs before
// Update returns, so before the group commit starts the next transaction.
type digestIndex struct {
	seed maphash.Seed
	size int

	mu sync.Mutex
	at map[uint64]int64 // hash of a digest -> received, Unix ns
	// floor: the bucket's keys below it are not in the map (evicted, or
	// not loaded at Open); nil if every key is.
	floor []byte
	cur   *txChanges // of the write transaction under way, if any
}

// txChanges are one write transaction's changes to the map, in order.
type txChanges struct {
	tx    *bolt.Tx
	added map[uint64]int64 // for lookups within the transaction
	ops   []digestOp
	floor []byte // new floor, if the transaction evicted
	// count is the map's size once ops apply, at most.
	count int
}

// digestOp adds h received at at, or removes h if it was received at at.
type digestOp struct {
	h   uint64
	at  int64
	add bool
}

// loadDigestIndex fills a new index from bucketDedupeByTime, newest first,
// up to size digests.
func loadDigestIndex(db *bolt.DB, size int) (*digestIndex, error) {
	if size <= 0 {
		size = DefaultDigestIndexSize
	}
	ix := &digestIndex{seed: maphash.MakeSeed(), size: size, at: make(map[uint64]int64)}
	err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDedupeByTime).Cursor()
		var last []byte
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if len(ix.at) == size {
				ix.floor = bytes.Clone(last)
				break
			}
			if len(k) <= 8 {
				continue
			}
			h := ix.hash(k[8:])
			if _, ok := ix.at[h]; !ok { // a newer copy of the digest was seen first
				ix.at[h] = int64(binary.BigEndian.Uint64(k[:8]))
			}
			last = k
		}
		return nil
	})
	return ix, err
}

func (ix *digestIndex) hash(digest []byte) uint64 { return maphash.Bytes(ix.seed, digest) }

// changes returns tx's changes, starting them (and the handler that
// applies them) at its first call for tx. The caller holds ix.mu.
func (ix *digestIndex) changes(tx *bolt.Tx) *txChanges {
	if ix.cur == nil || ix.cur.tx != tx {
		c := &txChanges{tx: tx, added: make(map[uint64]int64), count: len(ix.at)}
		ix.cur = c
		tx.OnCommit(func() { ix.apply(c) })
	}
	return ix.cur
}

// apply makes a committed transaction's changes to the map.
func (ix *digestIndex) apply(c *txChanges) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, op := range c.ops {
		switch old, ok := ix.at[op.h]; {
		case op.add:
			ix.at[op.h] = op.at
		case ok && old == op.at:
			delete(ix.at, op.h)
		}
	}
	if c.floor != nil {
		ix.floor = c.floor
	}
	if ix.cur == c {
		ix.cur = nil
	}
}

// lookup returns when the digest with hash h was received, as tx sees it,
// if the map has it.
func (ix *digestIndex) lookup(tx *bolt.Tx, h uint64) (int64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if at, ok := ix.changes(tx).added[h]; ok {
		return at, true
	}
	at, ok := ix.at[h]
	return at, ok
}

// lookupCommitted returns when the digest with hash h was received, as
// the last committed transaction left it, if the map has it.
func (ix *digestIndex) lookupCommitted(h uint64) (int64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	at, ok := ix.at[h]
	return at, ok
}

// add notes that tx put key (received, digest) in bucketDedupeByTime, and
// evicts the oldest digests if the map would exceed its size.
func (ix *digestIndex) add(tx *bolt.Tx, byTime *bolt.Bucket, key []byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.changes(tx)
	floor := ix.floor
	if c.floor != nil {
		floor = c.floor
	}
	if floor != nil && bytes.Compare(key, floor) < 0 {
		return // older than what the map keeps
	}
	h, at := ix.hash(key[8:]), int64(binary.BigEndian.Uint64(key[:8]))
	c.added[h] = at
	c.ops = append(c.ops, digestOp{h: h, at: at, add: true})
	c.count++
	if c.count > ix.size {
		ix.evict(c, byTime, floor)
	}
}

// evict drops the oldest digests from the map, a 64th of its size at a
// time so that the walk is not repeated for every message.
func (ix *digestIndex) evict(c *txChanges, byTime *bolt.Bucket, floor []byte) {
	cur := byTime.Cursor()
	k, _ := cur.First()
	if floor != nil {
		k, _ = cur.Seek(floor)
	}
	var last []byte
	for n := c.count - ix.size + ix.size/64; n > 0 && k != nil; k, _ = cur.Next() {
		if len(k) > 8 {
			c.ops = append(c.ops, digestOp{h: ix.hash(k[8:]), at: int64(binary.BigEndian.Uint64(k[:8]))})
			c.count--
			n--
		}
		last = k
	}
	if last != nil {
		c.floor = append(bytes.Clone(last), 0) // the least key after last
	}
}

// remove notes that tx deleted key (received, digest) from bucketDedupeByTime.
func (ix *digestIndex) remove(tx *bolt.Tx, key []byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.changes(tx)
	h, at := ix.hash(key[8:]), int64(binary.BigEndian.Uint64(key[:8]))
	if old, ok := c.added[h]; ok && old == at {
		delete(c.added, h)
	}
	c.ops = append(c.ops, digestOp{h: h, at: at})
}

// len returns how many digests the map holds.
func (ix *digestIndex) len() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.at)
}
