package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The audit trail is append-only: one entry per change of an address's
// suppression state (and per Lift, which resets the policy's counters even
// of an address that is not suppressed), written in the transaction that
// makes the change. A Rebuild replaces the state it derives from messages,
// never the trail: it appends an entry per suppression it changed.
//
// bucketAudit keys are sequence numbers from its own bucket sequence, so
// they increase with every entry and are never reused; bucketAuditByAddr
// indexes them by address (address 0x00 seq -> nothing).

// auditRecord is an AuditEntry as earlier versions stored it, in JSON;
// the sequence is the key. New entries are compact (encodeAudit).
type auditRecord struct {
	Time      time.Time          `json:"time"`
	Address   string             `json:"address"`
	Action    string             `json:"action"`
	Actor     string             `json:"actor"`
	Before    *suppressionRecord `json:"before,omitempty"`
	After     *suppressionRecord `json:"after,omitempty"`
	Note      string             `json:"note,omitempty"`
	MessageID uint64             `json:"message_id,omitempty"`
	Verdict   *observationRecord `json:"verdict,omitempty"`
}

type suppressionRecord struct {
	Reason  string    `json:"reason"`
	Detail  string    `json:"detail,omitempty"`
	Since   time.Time `json:"since"`
	Decoder string    `json:"decoder,omitempty"`
	Rule    string    `json:"rule,omitempty"`
}

func fromRecord(addr string, r *suppressionRecord) *store.Suppression {
	if r == nil {
		return nil
	}
	return &store.Suppression{Address: addr, Reason: r.Reason, Detail: r.Detail, Since: r.Since, Decoder: r.Decoder, Rule: r.Rule}
}

// appendAudit adds e to the trail, if b has one (a Rebuild's staging
// buckets do not), stamping it with the DB's clock.
func (db *DB) appendAudit(b stateBuckets, e store.AuditEntry) error {
	if b.audit == nil {
		return nil
	}
	return writeAudit(b.audit, b.auditByAddr, b.clock(db), e)
}

func writeAudit(audit, byAddr *bolt.Bucket, now time.Time, e store.AuditEntry) error {
	seq, err := audit.NextSequence()
	if err != nil {
		return fmt.Errorf("audit sequence: %w", err)
	}
	e.Seq, e.Time = seq, now.UTC().Round(0)
	return putAudit(audit, byAddr, e)
}

// putAudit stores e under its Seq, at its Time.
func putAudit(audit, byAddr *bolt.Bucket, e store.AuditEntry) error {
	v, err := encodeAudit(e)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := audit.Put(u64(e.Seq), v); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := byAddr.Put(eventKey(e.Address, e.Seq), nil); err != nil {
		return fmt.Errorf("audit index: %w", err)
	}
	return nil
}

// An audit entry is: format byte, Time (8 bytes, see wire.go), Address,
// Action, Actor, Before and After (each a byte, 1 if present, then
// Reason, Detail, Since, Decoder and Rule), Note, MessageID (uvarint),
// Verdict (a byte, 1 if present, then the observation and an event's
// flags with what they say follows). The sequence is the key.
func encodeAudit(e store.AuditEntry) ([]byte, error) {
	v := make([]byte, 0, 160+len(e.Note))
	v = append(v, compactFormat)
	v, err := appendTime(v, e.Time)
	if err != nil {
		return nil, err
	}
	v = appendString(v, e.Address)
	v = appendString(v, e.Action)
	v = appendString(v, e.Actor)
	for _, s := range []*store.Suppression{e.Before, e.After} {
		if s == nil {
			v = append(v, 0)
			continue
		}
		v = append(v, 1)
		v = appendString(v, s.Reason)
		v = appendString(v, s.Detail)
		if v, err = appendTime(v, s.Since); err != nil {
			return nil, err
		}
		v = appendString(v, s.Decoder)
		v = appendString(v, s.Rule)
	}
	v = appendString(v, e.Note)
	v = binary.AppendUvarint(v, e.MessageID)
	if e.Verdict == nil {
		return append(v, 0), nil
	}
	o := *e.Verdict
	v = appendObservation(append(v, 1), o, "")
	var flags uint64
	if o.Advisory {
		flags |= eventAdvisory
	}
	if hasListmonk(o) {
		flags |= eventListmonk
	}
	v = binary.AppendUvarint(v, flags)
	if flags&eventListmonk != 0 {
		v = appendString(appendString(v, o.ListmonkSubscriber), o.ListmonkCampaign)
	}
	return v, nil
}

func (r *reader) flag() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) == 0 || r.b[0] > 1 {
		r.err = errShort
		return false
	}
	f := r.b[0] == 1
	r.b = r.b[1:]
	return f
}

func decodeAudit(k, v []byte) (store.AuditEntry, error) {
	var rec auditRecord
	if len(k) != 8 {
		return store.AuditEntry{}, fmt.Errorf("audit key %x: not a sequence", k)
	}
	if len(v) > 0 && v[0] == compactFormat {
		r := reader{b: v[1:]}
		e := store.AuditEntry{Seq: binary.BigEndian.Uint64(k)}
		e.Time = r.time()
		e.Address = r.string()
		e.Action = r.string()
		e.Actor = r.string()
		for _, s := range []**store.Suppression{&e.Before, &e.After} {
			if r.flag() {
				*s = &store.Suppression{Address: e.Address, Reason: r.string(), Detail: r.string(), Since: r.time(),
					Decoder: r.string(), Rule: r.string()}
			}
		}
		e.Note = r.string()
		e.MessageID = r.uvarint()
		if r.flag() {
			o := r.observation("")
			flags := r.uvarint()
			o.Advisory = flags&eventAdvisory != 0
			if flags&eventListmonk != 0 {
				o.ListmonkSubscriber, o.ListmonkCampaign = r.string(), r.string()
			}
			e.Verdict = &o
		}
		if r.err != nil {
			return store.AuditEntry{}, fmt.Errorf("audit %d: %w", e.Seq, r.err)
		}
		return e, nil
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return store.AuditEntry{}, fmt.Errorf("audit %d: %w", binary.BigEndian.Uint64(k), err)
	}
	e := store.AuditEntry{
		Seq: binary.BigEndian.Uint64(k), Time: rec.Time, Address: rec.Address, Action: rec.Action,
		Actor: rec.Actor, Before: fromRecord(rec.Address, rec.Before), After: fromRecord(rec.Address, rec.After),
		Note: rec.Note, MessageID: rec.MessageID,
	}
	if rec.Verdict != nil {
		o := store.Observation(*rec.Verdict)
		e.Verdict = &o
	}
	return e, nil
}

// notifyAudit wakes whoever waits on AuditChanged.
func (db *DB) notifyAudit() {
	db.auditMu.Lock()
	close(db.auditCh)
	db.auditCh = make(chan struct{})
	db.auditMu.Unlock()
}

// AuditChanged returns a channel that is closed once entries are appended
// to the audit trail after the call. A follower of the trail takes the
// channel, then reads with AuditAfter, and waits on the channel only if
// that read came back empty; taking it first means no entry slips between
// the read and the wait.
func (db *DB) AuditChanged() <-chan struct{} {
	db.auditMu.Lock()
	defer db.auditMu.Unlock()
	return db.auditCh
}

// AuditAfter returns the audit entries with a sequence number above after,
// oldest first, at most limit of them (MaxAuditPage when limit is not
// positive or larger). It is the feed of suppression changes: a consumer
// keeps the Seq of the last entry it handled and asks for what follows,
// waiting on AuditChanged when nothing does.
func (db *DB) AuditAfter(ctx context.Context, after uint64, limit int) ([]store.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: audit after %d: %w", after, err)
	}
	if limit <= 0 || limit > store.MaxAuditPage {
		limit = store.MaxAuditPage
	}
	var list []store.AuditEntry
	err := db.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(list) < limit; k, v = c.Next() {
			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			list = append(list, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: audit after %d: %w", after, err)
	}
	return list, nil
}

// Audit lists the audit entries f selects, newest first, starting below
// sequence number before (0 for the newest), at most limit of them
// (MaxAuditPage when limit is not positive or larger). next is the before
// of the following page, 0 after the last one. New entries get higher
// numbers, so they never shift a later page.
func (db *DB) Audit(ctx context.Context, f store.AuditFilter, before uint64, limit int) (list []store.AuditEntry, next uint64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: audit: %w", err)
	}
	if limit <= 0 || limit > store.MaxAuditPage {
		limit = store.MaxAuditPage
	}
	if f.Address != "" {
		if f.Address, err = store.Normalize(f.Address); err != nil {
			return nil, 0, err
		}
	}
	err = db.view(func(tx *bolt.Tx) error {
		entries := tx.Bucket(bucketAudit)
		// seqs walks the candidate sequence numbers down from before.
		var seqs func() uint64
		if f.Address != "" {
			prefix := eventPrefix(f.Address)
			c := tx.Bucket(bucketAuditByAddr).Cursor()
			start := append([]byte(f.Address), 1)
			if before != 0 {
				start = eventKey(f.Address, before)
			}
			k, _ := seekBelow(c, start)
			seqs = func() uint64 {
				if k == nil || !bytes.HasPrefix(k, prefix) {
					return 0
				}
				seq := binary.BigEndian.Uint64(k[len(k)-8:])
				k, _ = c.Prev()
				return seq
			}
		} else {
			seq := before
			if seq == 0 {
				seq = entries.Sequence() + 1
			}
			seqs = func() uint64 {
				if seq > 0 {
					seq--
				}
				return seq
			}
		}
		for n := 1; ; n++ {
			if n%checkCtxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			seq := seqs()
			if seq == 0 {
				return nil
			}
			k := u64(seq)
			v := entries.Get(k)
			if v == nil {
				continue // a sequence number a failed transaction took
			}
			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			if !f.Since.IsZero() && e.Time.Before(f.Since) {
				return nil // older entries have lower numbers
			}
			if f.Actor != "" && e.Actor != f.Actor {
				continue
			}
			if len(list) == limit {
				next = list[len(list)-1].Seq
				return nil
			}
			list = append(list, e)
		}
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit: %w", err)
	}
	return list, next, nil
}
