package boltstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"time"

	bolt "go.etcd.io/bbolt"
)

// target is an observation whose recipient normalised, ready to record;
// index is its place among the observations of the message's head.
type target struct {
	addr  string
	obs   store.Observation
	index int
}

// Record journals the message and all its observations, to be applied
// at m.Received, and returns the message id once the journal is on disk
// (see journal.go); the policy applies them in a bbolt transaction shortly
// after, which every read waits for (catchUp).
//
// Observations without a valid recipient are kept in the message but
// create no recipient state. Concurrent calls share a journal write, and
// so an fsync. While a Rebuild runs it fails with ErrRebuilding.
func (db *DB) Record(ctx context.Context, m store.Message) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: record: %w", err)
	}
	if !db.writers.TryRLock() {
		return 0, fmt.Errorf("store: record: %w", store.ErrRebuilding)
	}
	defer db.writers.RUnlock()
	if m.Received.IsZero() {
		return 0, errors.New("store: record: message has no received time")
	}
	if len(m.Digest) > maxDigestLen {
		return 0, fmt.Errorf("store: record: digest of %d bytes, want at most %d", len(m.Digest), maxDigestLen)
	}
	// Everything that does not depend on the database happens here,
	// outside the journal write that concurrent sessions wait on.
	at := m.Received.UTC().Round(0) // Round(0) drops the monotonic reading
	rec := messageRecord{
		Received:     at,
		EnvelopeFrom: m.EnvelopeFrom,
		EnvelopeTo:   m.EnvelopeTo,
		RawSize:      len(m.Raw),
	}
	head, targets, err := prepareHead(rec, m.Observations)
	if err != nil {
		return 0, fmt.Errorf("store: record: %w", err)
	}
	// The journal keeps the head and the raw bytes compressed together:
	// the head repeats the report's words, which then cost next to nothing.
	scratch := frameBody(bodyScratch.Get().(*[]byte), head, m.Raw)
	body := db.compress(*scratch)
	putScratch(scratch)
	if err := db.roomToJournal(ctx); err != nil {
		return 0, fmt.Errorf("store: record: %w", err)
	}
	req := &journalReq{
		in:   recordIn{now: db.stamp(), at: at, head: head, rawSize: len(m.Raw), targets: targets, digest: m.Digest, quota: m.RawQuota},
		body: body,
		done: make(chan recordOut, 1),
	}
	db.journalDo(req)
	out := <-req.done
	switch {
	case out.err != nil:
		return 0, fmt.Errorf("store: record: %w", out.err)
	case out.duplicate:
		return out.id, fmt.Errorf("store: record: %w (message %d)", store.ErrDuplicate, out.id)
	case out.overQuota:
		return 0, fmt.Errorf("store: record: %w (%d bytes kept, quota %d)", store.ErrQuota, out.rawBytes, m.RawQuota)
	}
	return out.id, nil
}

// recordIn is one message ready to record; recordOut what became of it.
type recordIn struct {
	id      uint64    // given by the journal
	now     time.Time // the DB's clock when Record was called; zero: read it
	at      time.Time
	head    []byte
	raw     []byte // compressed
	rawSize int
	targets []target
	digest  []byte
	quota   int64 // checked by the journal
}

type recordOut struct {
	id        uint64
	duplicate bool   // a repeat of message id: nothing stored
	overQuota bool   // refused: nothing stored
	rawBytes  uint64 // kept, when over quota
	err       error  // the journal's write failed
}

// prepareHead encodes rec with the observations obs, and returns those of
// them whose recipient normalises as targets.
func prepareHead(rec messageRecord, obs []store.Observation) ([]byte, []target, error) {
	head, err := encodeHead(rec, obs)
	return head, targetsOf(obs), err
}

// targetsOf returns the observations whose recipient normalises, with it.
func targetsOf(obs []store.Observation) []target {
	var targets []target
	for i, o := range obs {
		if addr, err := store.Normalize(o.Recipient); err == nil {
			targets = append(targets, target{addr, o, i})
		}
	}
	return targets
}

// recordTx stores one message and its observations in tx under the id the
// journal gave it, which also decided it is no duplicate and within the
// raw quota, and reports whether the policy suppressed an address. Its
// counter increments go to t, for the group commit to write, or straight
// to the counters if t is nil.
func (db *DB) recordTx(tx *bolt.Tx, t tally, m recordIn) (suppressed bool, err error) {
	meta := tx.Bucket(bucketMeta)
	if window := db.policy.DuplicateWindow; window > 0 {
		if err := db.pruneDigests(tx, m.at.Add(-window)); err != nil {
			return false, err
		}
	}
	messages := inOrder(tx.Bucket(bucketMessages))
	id := m.id
	if id == 0 {
		return false, errors.New("message without an id")
	}
	if id > messages.Sequence() {
		if err := messages.SetSequence(id); err != nil {
			return false, fmt.Errorf("message id: %w", err)
		}
	}
	if err := messages.Put(u64(id), m.head); err != nil {
		return false, fmt.Errorf("message %d: %w", id, err)
	}
	if err := inOrder(tx.Bucket(bucketRaw)).Put(u64(id), m.raw); err != nil {
		return false, fmt.Errorf("message %d: raw: %w", id, err)
	}
	if err := meta.Put(keyRawBytes, u64(getU64(meta, keyRawBytes)+uint64(m.rawSize))); err != nil {
		return false, fmt.Errorf("message %d: raw bytes: %w", id, err)
	}
	if len(m.digest) > 0 && db.policy.DuplicateWindow > 0 {
		if err := db.rememberDigest(tx, m.digest, m.at, id); err != nil {
			return false, err
		}
	}
	state := liveState(tx)
	state.tally = t
	state.now = m.now
	if t == nil { // else the group commit prunes once per transaction
		if err := pruneHours(state.meta, state.counters, state.clock(db)); err != nil {
			return false, err
		}
	}
	for _, t := range m.targets {
		added, err := db.observe(state, id, m.at, t)
		if err != nil {
			return false, fmt.Errorf("message %d: %s: %w", id, t.addr, err)
		}
		suppressed = suppressed || added
	}
	return suppressed, nil
}

// stateBuckets hold what the policy derives from the messages: the live
// buckets, or the copies a Rebuild fills before it swaps them in.
type stateBuckets struct {
	recipients, events, suppressions, counters *bolt.Bucket
	// tally, if not nil, collects the counter increments that the group
	// commit writes at the end of the transaction.
	tally tally
	// meta keeps the suppression counters (stats.go), index the order
	// indexes (index.go, query.go), audit and auditByAddr the audit trail
	// (audit.go); all nil in a Rebuild, which indexes, counts and audits
	// when it swaps.
	meta, audit, auditByAddr *bolt.Bucket
	index                    sortIndexes
	// now, if not zero, is the clock of what the transaction records: a
	// journaled message's is when Record was called, not when it applies.
	now time.Time
}

// clock returns b.now, or the DB's clock.
func (b stateBuckets) clock(db *DB) time.Time {
	if !b.now.IsZero() {
		return b.now
	}
	return db.now()
}

func liveState(tx *bolt.Tx) stateBuckets {
	return stateBuckets{
		recipients:   tx.Bucket(bucketRecipients),
		events:       tx.Bucket(bucketEvents),
		suppressions: tx.Bucket(bucketSuppressions),
		counters:     tx.Bucket(bucketCounters),
		meta:         tx.Bucket(bucketMeta),
		// Suppressions mostly arrive in time order; reasons and details
		// anywhere.
		index:       sortIndexes{inOrder(tx.Bucket(bucketBySince)), tx.Bucket(bucketByReason), tx.Bucket(bucketByDetail)},
		audit:       inOrder(tx.Bucket(bucketAudit)),
		auditByAddr: tx.Bucket(bucketAuditByAddr),
	}
}

// observe appends one observation of message msgID (whose head is
// stored) to its recipient's history, counts it, updates the recipient's
// record and suppresses it if the policy says so, reporting whether it did.
func (db *DB) observe(b stateBuckets, msgID uint64, at time.Time, t target) (bool, error) {
	addr, o := t.addr, t.obs
	v, err := encodeEventRef(at, msgID, t.index)
	if err != nil {
		return false, err
	}
	if err := putEvent(b.events, addr, v); err != nil {
		return false, err
	}
	if err := countObservation(b.counters, b.tally, b.clock(db), at, addr, o); err != nil {
		return false, err
	}
	r, ref, err := loadRecipient(b.recipients, addr)
	if err != nil {
		return false, err
	}
	added := false
	s := db.policy.Observe(&r, o, at)
	if r.LastBounce.Equal(at) { // o is the latest: its diagnostic is the last
		ref = diagRef{msgID, uint64(t.index)}
	}
	if s != nil {
		if added, err = suppressTx(b, *s); err != nil {
			return false, err
		}
		if added {
			err := db.appendAudit(b, store.AuditEntry{Address: addr, Action: store.AuditSuppress, Actor: store.ActorPolicy,
				After: s, MessageID: msgID, Verdict: &o})
			if err != nil {
				return false, err
			}
		}
	}
	return added, saveRecipient(b.recipients, r, ref)
}

// appendEvent appends an admin action, an event of no message that holds
// its observation, to addr's history.
func appendEvent(events *bolt.Bucket, addr string, at time.Time, o store.Observation) error {
	v, err := encodeEvent(addr, at, 0, o)
	if err != nil {
		return err
	}
	return putEvent(events, addr, v)
}

// putEvent appends the encoded event v to addr's history.
func putEvent(events *bolt.Bucket, addr string, v []byte) error {
	seq, err := events.NextSequence()
	if err != nil {
		return fmt.Errorf("event sequence: %w", err)
	}
	if err := events.Put(eventKey(addr, seq), v); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

// loadRecipient returns addr's record, or a fresh one if it has none, and
// the observation its last diagnostic is (see decodeRecipient).
func loadRecipient(recipients *bolt.Bucket, addr string) (store.Recipient, diagRef, error) {
	r := store.Recipient{Address: addr}
	var ref diagRef
	if v := recipients.Get([]byte(addr)); v != nil {
		var err error
		if r, ref, err = decodeRecipient(addr, v); err != nil {
			return store.Recipient{}, diagRef{}, err
		}
	}
	if r.Counts == nil {
		r.Counts = make(map[string]int)
	}
	return r, ref, nil
}

// saveRecipient stores r, whose last diagnostic is ref's observation's
// if ref is not zero, counting it in the bucket's sequence if new.
func saveRecipient(recipients *bolt.Bucket, r store.Recipient, ref diagRef) error {
	v, err := encodeRecipient(r, ref)
	if err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	if recipients.Get([]byte(r.Address)) == nil {
		if _, err := recipients.NextSequence(); err != nil {
			return fmt.Errorf("recipient counter: %w", err)
		}
	}
	if err := recipients.Put([]byte(r.Address), v); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	return nil
}

// suppressTx adds s unless its address is already suppressed (the first
// reason stands until a Lift), and reports whether it did.
func suppressTx(b stateBuckets, s store.Suppression) (bool, error) {
	if b.suppressions.Get([]byte(s.Address)) != nil {
		return false, nil
	}
	if err := b.suppressions.Put([]byte(s.Address), encodeSuppression(s)); err != nil {
		return false, fmt.Errorf("suppression: %w", err)
	}
	if err := b.index.put(s); err != nil {
		return false, err
	}
	if b.meta != nil {
		return true, addSuppressed(b.meta, s.Reason, 1)
	}
	return true, nil
}

// unsuppressTx removes addr's suppression, if it has one, and returns it.
func unsuppressTx(b stateBuckets, addr string) (*store.Suppression, error) {
	v := b.suppressions.Get([]byte(addr))
	if v == nil {
		return nil, nil
	}
	s, err := decodeSuppression([]byte(addr), v)
	if err != nil {
		return nil, err
	}
	if err := b.suppressions.Delete([]byte(addr)); err != nil {
		return nil, fmt.Errorf("suppression: %w", err)
	}
	if err := b.index.delete(s); err != nil {
		return nil, err
	}
	if b.meta != nil {
		return &s, addSuppressed(b.meta, s.Reason, -1)
	}
	return &s, nil
}
