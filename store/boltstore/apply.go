package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// How the journaled messages reach bbolt. The applier waits until
// applyBatch messages are queued or the first of them has waited
// applyDelay, then applies all that are queued in one transaction; a
// read (catchUp) or another writer (update) applies them at once. Past
// maxQueued, Record waits for the applier (a bbolt that cannot write
// stops the journal there rather than let it grow without bound).
const (
	applyBatch = 4000
	applyDelay = 500 * time.Millisecond
	maxQueued  = 20000
)

// stamp reads the DB's clock for a Record, and keeps the reading for
// lastStamp.
func (db *DB) stamp() time.Time {
	now := db.now()
	db.stamped.Store(now.UnixNano())
	return now
}

// lastStamp is the clock of the group commit's own work (dropping old
// hour counters): the last Record's reading; zero before any.
func (db *DB) lastStamp() time.Time {
	if n := db.stamped.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// journalReq is one Record waiting for the journal.
type journalReq struct {
	in   recordIn
	body []byte // the head and raw bytes, compressed: see frameBody
	done chan recordOut
}

// journalWriter lets concurrent Records share a journal write and its
// fsync, as groupCommit does for bbolt transactions.
type journalWriter struct {
	groups groups[*journalReq]
	// io is held by the goroutine writing a group and by Close: the
	// fields below and the journal's file are theirs.
	io sync.Mutex
	// broken is set when a failed write could not be cut back off the
	// segment, or the store closed: nothing more is journaled.
	broken error
	nextID uint64 // the next message id, at least
}

// applyQueue holds the frames journaled and not yet applied, in order.
type applyQueue struct {
	mu      sync.Mutex
	cond    sync.Cond // on mu: applied moved, an apply failed, or the store closed
	frames  []frame
	digests map[uint64]queuedDigest // the queued messages' Digests, by hash
	fails   int                     // applies that failed
	lastErr error
	closed  bool

	journaled atomic.Uint64 // the last frame journaled
	applied   atomic.Uint64 // the last frame applied

	wake chan struct{} // to the applier: frames were queued
	kick chan struct{} // to the applier: apply now
}

type queuedDigest struct {
	at     int64
	id     uint64
	digest []byte
}

func (q *applyQueue) init(applied uint64) {
	q.cond.L = &q.mu
	q.digests = make(map[uint64]queuedDigest)
	q.journaled.Store(applied)
	q.applied.Store(applied)
	q.wake = make(chan struct{}, 1)
	q.kick = make(chan struct{}, 1)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// after returns the queued frames after seq.
func (q *applyQueue) after(seq uint64) []frame {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.frames) && q.frames[i].seq <= seq {
		i++
	}
	return q.frames[i:len(q.frames):len(q.frames)]
}

func (q *applyQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames)
}

// done drops the frames up to seq, now committed, and the queued digests
// (of hashes) of messages up to maxID.
func (q *applyQueue) done(seq, maxID uint64, hashes []uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.frames) && q.frames[i].seq <= seq {
		i++
	}
	q.frames = append(q.frames[:0:0], q.frames[i:]...)
	for _, h := range hashes {
		if d, ok := q.digests[h]; ok && d.id <= maxID {
			delete(q.digests, h)
		}
	}
	if seq > q.applied.Load() {
		q.applied.Store(seq)
	}
	q.cond.Broadcast()
}

func (q *applyQueue) failed(err error) {
	q.mu.Lock()
	q.fails++
	q.lastErr = err
	q.cond.Broadcast()
	q.mu.Unlock()
}

// journalDo journals r, in a group with the Records that arrive meanwhile,
// and answers on r.done.
func (db *DB) journalDo(r *journalReq) { db.jw.groups.join(r, db.journalGroup) }

// A busy sink, one whose last journal write carried at least
// journalBusyGroup messages, waits journalGather before it takes the next
// group, for more Records to join it. Each write ends in an fsync and
// rewrites the page the last one left part-filled (a device writes whole
// pages): at a few thousand bounces a second (bouncebench smtp), 7-10
// messages a write became 12-15, and the disk written per message fell
// from 1.96-2.05 to 1.89-1.94 times the message's compressed size. Fifty sessions then wait a millisecond more
// for their 250, against the 10-20 of their transaction; a sink receiving
// a bounce at a time never waits, but for the first after a busy spell.
const (
	journalBusyGroup = 4
	journalGather    = time.Millisecond
)

func journalGatherFor(last int) time.Duration {
	if last >= journalBusyGroup {
		return journalGather
	}
	return 0
}

// journalGroup decides each message of the group (a repeat of one within
// the duplicate window, over the raw quota, or new, with its id), writes
// their frames in one write and one fsync, queues them to be applied, and
// answers each.
func (db *DB) journalGroup(group []*journalReq) {
	fail := func(err error) {
		for _, r := range group {
			r.done <- recordOut{err: err}
		}
	}
	w, j, q := &db.jw, db.jr, &db.apq
	w.io.Lock()
	defer w.io.Unlock()
	if w.broken != nil {
		fail(w.broken)
		return
	}
	window := db.policy.DuplicateWindow

	// Each digest's message among the queued frames, then among what bbolt
	// holds, in that order: a frame leaves the queue only after bbolt holds
	// it (and the digest map knows it), so one seen in neither place was in
	// neither.
	queued := make([]queuedDigest, len(group))
	if window > 0 {
		q.mu.Lock()
		for i, r := range group {
			if len(r.in.digest) > 0 {
				queued[i] = q.digests[db.digests.hash(r.in.digest)]
			}
		}
		q.mu.Unlock()
	}
	stored := make([]uint64, len(group))
	var lastID uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		lastID = tx.Bucket(bucketMessages).Sequence()
		if window <= 0 {
			return nil
		}
		for i, r := range group {
			if len(r.in.digest) > 0 {
				stored[i], _ = db.committedDuplicate(tx, r.in.digest, r.in.at.Add(-window))
			}
		}
		return nil
	})
	if err != nil {
		fail(fmt.Errorf("journal: %w", err))
		return
	}

	seq, id := j.nextSeq, max(w.nextID, lastID+1)
	rawBytes := uint64(db.rawBytes.Load())
	outs := make([]recordOut, len(group))
	frames := make([]frame, 0, len(group))
	offsets := make([]int, 0, len(group))
	inGroup := make(map[uint64]queuedDigest)
	size := 0
	for _, r := range group {
		size += frameHeadLen + frameFixed + 9 + len(r.in.digest) + len(r.body)
	}
	buf := make([]byte, 0, size)
	var added uint64
	for i, r := range group {
		m := r.in
		if window > 0 && len(m.digest) > 0 {
			cutoff := m.at.Add(-window).UnixNano()
			h := db.digests.hash(m.digest)
			orig := stored[i]
			for _, d := range []queuedDigest{queued[i], inGroup[h]} {
				if d.id != 0 && d.at >= cutoff && bytes.Equal(d.digest, m.digest) {
					orig = d.id
				}
			}
			if orig != 0 {
				outs[i] = recordOut{id: orig, duplicate: true}
				offsets = append(offsets, len(buf))
				note := recordIn{id: orig, at: m.at, now: m.now}
				buf = encodeFrame(buf, frameDupNote, seq, note, nil)
				frames = append(frames, frame{kind: frameDupNote, seq: seq, in: note})
				seq++
				continue
			}
		}
		if m.quota > 0 && rawBytes+added+uint64(m.rawSize) > uint64(m.quota) {
			outs[i] = recordOut{overQuota: true, rawBytes: rawBytes + added}
			continue
		}
		m.id = id
		outs[i] = recordOut{id: id}
		offsets = append(offsets, len(buf))
		buf = encodeFrame(buf, frameMessage, seq, m, r.body)
		frames = append(frames, frame{kind: frameMessage, seq: seq, in: m})
		if window > 0 && len(m.digest) > 0 {
			inGroup[db.digests.hash(m.digest)] = queuedDigest{at: m.at.UnixNano(), id: id, digest: m.digest}
		}
		added += uint64(m.rawSize)
		seq++
		id++
	}

	if len(frames) > 0 {
		seg, off, err := j.append(buf, frames[0].seq, frames[0].in.at)
		if err != nil {
			if errors.Is(err, errJournalBroken) {
				w.broken = err
			}
			fail(err)
			return
		}
		for i := range frames {
			start := off + int64(offsets[i])
			end := off + int64(len(buf))
			if i+1 < len(offsets) {
				end = off + int64(offsets[i+1])
			}
			frames[i].seg, frames[i].end = seg, end
			if frames[i].kind == frameMessage {
				frames[i].in.raw = rawPointer(seg, start, int(end-start))
			}
		}
		db.curSeg.Store(seg)
		db.journalWrites.Add(1)
		db.journalFrames.Add(int64(len(frames)))
		db.journalBytes.Add(int64(len(buf)))
		j.nextSeq = seq
		w.nextID = id
		db.rawBytes.Add(int64(added))
		q.mu.Lock()
		q.frames = append(q.frames, frames...)
		for h, d := range inGroup {
			q.digests[h] = d
		}
		q.journaled.Store(seq - 1)
		q.mu.Unlock()
		signal(q.wake)
	}
	for i, r := range group {
		r.done <- outs[i]
	}
}

// committedDuplicate returns the message that bbolt holds with digest,
// received at or after cutoff, as the last committed transaction left it.
func (db *DB) committedDuplicate(tx *bolt.Tx, digest []byte, cutoff time.Time) (uint64, bool) {
	at, ok := db.digests.lookupCommitted(db.digests.hash(digest))
	if !ok || at < cutoff.UnixNano() {
		return 0, false
	}
	// The map knows a hash: the digest itself is on disk, or it was
	// another with the same hash.
	v := tx.Bucket(bucketDedupeByTime).Get(append(u64(uint64(at)), digest...))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// applyPending applies the queued frames that tx has not, in order, and
// notes how far it got in bucketMeta; their counter increments go to t
// (nil: straight to the counters).
func (db *DB) applyPending(tx *bolt.Tx, t tally) error {
	if db.jr == nil || db.holdApply.Load() {
		return nil
	}
	pos := parseJournalPos(tx.Bucket(bucketMeta).Get(keyJournalApplied))
	return db.applyFrames(tx, t, db.apq.after(pos.seq))
}

// applyFrames applies frames in tx; once tx commits, the queue drops them.
func (db *DB) applyFrames(tx *bolt.Tx, t tally, frames []frame) error {
	if len(frames) == 0 {
		return nil
	}
	var suppressed bool
	var hashes []uint64
	var maxID uint64
	for _, f := range frames {
		switch f.kind {
		case frameMessage:
			added, err := db.recordTx(tx, t, f.in)
			if err != nil {
				return fmt.Errorf("journal frame %d: %w", f.seq, err)
			}
			suppressed = suppressed || added
			maxID = max(maxID, f.in.id)
			if len(f.in.digest) > 0 && db.digests != nil {
				hashes = append(hashes, db.digests.hash(f.in.digest))
			}
		case frameDupNote:
			if err := noteDuplicate(tx, f.in.id, f.in.at); err != nil {
				return fmt.Errorf("journal frame %d: %w", f.seq, err)
			}
		}
	}
	last := frames[len(frames)-1]
	pos := journalPos{seq: last.seq, seg: last.seg, off: last.end}
	if err := tx.Bucket(bucketMeta).Put(keyJournalApplied, pos.bytes()); err != nil {
		return err
	}
	tx.OnCommit(func() {
		// Signal first: a read that waited for these frames finds the
		// change signalled when it returns.
		if suppressed {
			db.notifyAudit()
		}
		db.apq.done(last.seq, maxID, hashes)
		db.applyTxs.Add(1)
		db.appliedMsgs.Add(int64(len(frames)))
	})
	return nil
}

// update runs fn in a write transaction of its own, after the journaled
// messages, so that it sees (and follows) every message acknowledged
// before it was called.
func (db *DB) update(fn func(*bolt.Tx) error) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := db.applyPending(tx, nil); err != nil {
			return err
		}
		return fn(tx)
	})
}

// view runs fn in a read transaction once the messages acknowledged
// before the call are applied (catchUp).
func (db *DB) view(fn func(*bolt.Tx) error) error {
	db.catchUp()
	return db.bolt.View(fn)
}

// catchUp returns once every message journaled before the call is
// applied, asking the applier to apply at once; or once an apply fails
// (the read then sees what bbolt holds).
func (db *DB) catchUp() {
	if db.jr == nil {
		return
	}
	q := &db.apq
	target := q.journaled.Load()
	if q.applied.Load() >= target {
		return
	}
	signal(q.kick)
	q.mu.Lock()
	defer q.mu.Unlock()
	for fails := q.fails; q.applied.Load() < target && q.fails == fails && !q.closed; {
		q.cond.Wait()
	}
}

// roomToJournal waits while the queue is full, failing with the last
// apply's error if applying fails meanwhile.
func (db *DB) roomToJournal(ctx context.Context) error {
	q := &db.apq
	if q.len() < maxQueued {
		return nil
	}
	signal(q.kick)
	q.mu.Lock()
	defer q.mu.Unlock()
	for fails := q.fails; len(q.frames) >= maxQueued; {
		if q.fails != fails {
			return fmt.Errorf("applying the journal: %w", q.lastErr)
		}
		if q.closed {
			return errors.New("the store is closed")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		q.cond.Wait()
	}
	return nil
}

// applier applies the queued frames in the background: see applyBatch.
func (db *DB) applier() {
	defer close(db.applierDone)
	q := &db.apq
	for {
		kicked := false
		select {
		case <-q.wake:
		case <-q.kick:
			kicked = true
		case <-db.quit:
			return
		}
		if q.len() == 0 {
			continue
		}
		if !kicked {
			t := time.NewTimer(applyDelay)
		gather:
			for q.len() < applyBatch {
				select {
				case <-q.wake:
				case <-q.kick:
					break gather
				case <-t.C:
					break gather
				case <-db.quit:
					break gather
				}
			}
			t.Stop()
		}
		if err := db.commits.do(func(*bolt.Tx) error { return nil }); err != nil {
			q.failed(err)
			select { // retry in a while
			case <-db.quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
			signal(q.wake)
		}
	}
}

// openJournal applies the frames a crash left unapplied, then readies
// the journal for writing. It runs in Open, before anything else uses db.
func (db *DB) openJournal(path string) error {
	var id []byte
	var pos journalPos
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if id = bytes.Clone(meta.Get(keyJournalID)); len(id) != 8 {
			id = newStoreID()
			if err := meta.Put(keyJournalID, id); err != nil {
				return err
			}
		}
		pos = parseJournalPos(meta.Get(keyJournalApplied))
		return nil
	})
	if err != nil {
		return err
	}
	j := &journal{dir: path + ".raw", id: id}
	segs, err := segments(j.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	next := pos.seq + 1
	var batch []frame
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := db.bolt.Update(func(tx *bolt.Tx) error { return db.applyFrames(tx, nil, batch) })
		batch = batch[:0]
		return err
	}
	var lastSeg uint64
	var lastEnd int64
	for i, s := range segs {
		if s < pos.seg {
			continue
		}
		from := int64(0)
		if s == pos.seg {
			from = pos.off
		}
		if i == len(segs)-1 && from == 0 && shortSegment(filepath.Join(j.dir, segName(s))) {
			// Created by a crash before its header was on disk: no frame
			// was ever written to it. Appending starts it afresh.
			lastSeg, lastEnd = s, 0
			continue
		}
		end, clean, err := j.readSegment(s, from, func(p []byte, off int64) error {
			f, err := decodeFrame(p, s, off)
			if err != nil {
				return fmt.Errorf("%w: segment %s at %d: %w", ErrDamaged, segName(s), off, err)
			}
			if f.seq < next {
				return nil // applied before
			}
			if f.seq != next {
				return fmt.Errorf("%w: segment %s at %d: frame %d, expected %d", ErrDamaged, segName(s), off, f.seq, next)
			}
			f.seg, f.end = s, off+int64(frameHeadLen+len(p))
			batch = append(batch, f)
			next++
			if len(batch) == applyBatch {
				return flush()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if !clean && i < len(segs)-1 {
			return fmt.Errorf("journal: %w: segment %s is cut short at %d, and later ones follow", ErrDamaged, segName(s), end)
		}
		lastSeg, lastEnd = s, end
	}
	if err := flush(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// Appending goes on in the last segment, cut where its whole frames
	// end (a torn one was never acknowledged), or in a new one.
	if lastSeg != 0 {
		err = j.openSegment(lastSeg, lastEnd)
	} else {
		err = j.openSegment(next, 0)
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.nextSeq = next
	db.jr = j
	db.curSeg.Store(j.seg)
	db.apq.init(next - 1)
	db.jw.groups.gather = journalGatherFor
	var raw uint64
	db.bolt.View(func(tx *bolt.Tx) error {
		raw = getU64(tx.Bucket(bucketMeta), keyRawBytes)
		return nil
	})
	db.rawBytes.Store(int64(raw))
	db.quit = make(chan struct{})
	db.applierDone = make(chan struct{})
	go db.applier()
	return nil
}

// sleepCtx sleeps for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// shortSegment reports whether the file at path is shorter than a
// segment's header.
func shortSegment(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() < int64(segHeaderLen)
}

// closeJournal stops the applier, applies what is queued and closes the
// current segment.
func (db *DB) closeJournal() error {
	if db.jr == nil {
		return nil
	}
	close(db.quit)
	<-db.applierDone
	var err error
	if db.apq.len() > 0 {
		err = db.commits.do(func(*bolt.Tx) error { return nil })
	}
	db.apq.mu.Lock()
	db.apq.closed = true
	db.apq.cond.Broadcast()
	db.apq.mu.Unlock()
	db.jw.io.Lock()
	defer db.jw.io.Unlock()
	db.jw.broken = errors.New("the store is closed")
	return errors.Join(err, db.jr.close())
}

// dropSegments deletes the segments that hold no raw message the raw
// bucket refers to and no frame still to apply; never the current one.
// After each it rests as long as deleting it took (freeing 64 MB can
// hold the disk for a while, with the journal's fsyncs queued behind).
func (db *DB) dropSegments(ctx context.Context) (int, error) {
	if db.jr == nil {
		return 0, nil
	}
	var first uint64 // the segment of the first reference, if any
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRaw).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if isRawRef(v) {
				first = binary.BigEndian.Uint64(v[1:])
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	segs, err := segments(db.jr.dir)
	if err != nil {
		return 0, err
	}
	applied, cur := db.apq.applied.Load(), db.curSeg.Load()
	n := 0
	for i := 0; i+1 < len(segs); i++ {
		s, next := segs[i], segs[i+1]
		if s >= cur || next-1 > applied || (first != 0 && s >= first) {
			break
		}
		start := time.Now()
		if err := os.Remove(filepath.Join(db.jr.dir, segName(s))); err != nil {
			return n, err
		}
		n++
		if err := sleepCtx(ctx, time.Since(start)); err != nil {
			return n, err
		}
	}
	return n, nil
}
