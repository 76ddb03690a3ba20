package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// Dump calls fn with every item of the store, in one read transaction.
func (db *DB) Dump(ctx context.Context, fn func(store.Item) error) error {
	err := db.view(func(tx *bolt.Tx) error {
		n := 0
		check := func() error {
			if n++; n%checkCtxEvery == 0 {
				return ctx.Err()
			}
			return nil
		}
		raws := tx.Bucket(bucketRaw)
		err := tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			if err := check(); err != nil {
				return err
			}
			m, err := db.decode(storedBytes{id: binary.BigEndian.Uint64(k), head: v, raw: raws.Get(k)})
			if err != nil {
				return err
			}
			return fn(store.Item{Message: &m})
		})
		if err != nil {
			return err
		}
		hr := newHeadReader(tx.Bucket(bucketMessages))
		err = tx.Bucket(bucketRecipients).ForEach(func(k, v []byte) error {
			if err := check(); err != nil {
				return err
			}
			r, ref, err := decodeRecipient(string(k), v)
			if err != nil {
				return err
			}
			if err := hr.lastDiagnostic(&r, ref); err != nil {
				return err
			}
			return fn(store.Item{Recipient: &r})
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			if err := check(); err != nil {
				return err
			}
			e, err := hr.event(k, v)
			if err != nil {
				return err
			}
			return fn(store.Item{Event: &store.AddressedEvent{Address: eventAddr(k), Event: e}})
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketSuppressions).ForEach(func(k, v []byte) error {
			s, err := decodeSuppression(k, v)
			if err != nil {
				return err
			}
			return fn(store.Item{Suppression: &s})
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
			if err := check(); err != nil {
				return err
			}
			e, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			return fn(store.Item{Audit: &e})
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			if len(k) < 6 || len(v) != 8 {
				return nil
			}
			c := store.Counter{Hourly: k[0] == granHour, Period: binary.BigEndian.Uint32(k[1:5]), Kind: k[5],
				N: int64(binary.BigEndian.Uint64(v))}
			c.A, c.B, _ = strings.Cut(string(k[6:]), "\x00")
			return fn(store.Item{Counter: &c})
		})
	})
	if err != nil {
		return fmt.Errorf("store: dump: %w", err)
	}
	return nil
}

// Load writes items as they are, in one transaction.
func (db *DB) Load(ctx context.Context, items []store.Item) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: load: %w", err)
	}
	db.writers.RLock()
	defer db.writers.RUnlock()
	err := db.update(func(tx *bolt.Tx) error {
		b := liveState(tx)
		messages, raws := tx.Bucket(bucketMessages), tx.Bucket(bucketRaw)
		for _, it := range items {
			var err error
			switch {
			case it.Message != nil:
				m := it.Message
				rec := messageRecord{Received: m.Received, EnvelopeFrom: m.EnvelopeFrom, EnvelopeTo: m.EnvelopeTo, RawSize: len(m.Raw),
					Duplicates: m.Duplicates, LastDuplicate: m.LastDuplicate}
				var head []byte
				if head, err = encodeHead(rec, m.Observations); err == nil {
					if err = messages.Put(u64(m.ID), head); err == nil && !m.RawPruned {
						err = raws.Put(u64(m.ID), db.compress(m.Raw))
					}
				}
			case it.Recipient != nil:
				var v []byte
				if v, err = encodeRecipient(*it.Recipient, diagRef{}); err == nil {
					err = b.recipients.Put([]byte(it.Recipient.Address), v)
				}
			case it.Event != nil:
				e := it.Event
				var v []byte
				if v, err = encodeEvent(e.Address, e.Time, e.MessageID, e.Observation); err == nil {
					err = b.events.Put(eventKey(e.Address, e.Seq), v)
				}
			case it.Suppression != nil:
				s := *it.Suppression
				if old := b.suppressions.Get([]byte(s.Address)); old != nil {
					if o, err := decodeSuppression([]byte(s.Address), old); err == nil {
						b.index.delete(o)
					}
				}
				if err = b.suppressions.Put([]byte(s.Address), encodeSuppression(s)); err == nil {
					err = b.index.put(s)
				}
			case it.Audit != nil:
				err = putAudit(b.audit, b.auditByAddr, *it.Audit)
			case it.Counter != nil:
				c := it.Counter
				gran := byte(granDay)
				if c.Hourly {
					gran = granHour
				}
				names := []string{c.A}
				if c.Kind != kindClass {
					names = append(names, c.B)
				}
				err = b.counters.Put(periodKey(gran, c.Period, c.Kind, names...), u64(uint64(c.N)))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: load: %w", err)
	}
	return nil
}

// FinishLoad sets the sequences past the loaded numbers and counts the
// sizes from the data.
func (db *DB) FinishLoad(ctx context.Context) error {
	err := db.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMessages, bucketAudit} {
			b := tx.Bucket(name)
			if k, _ := b.Cursor().Last(); len(k) == 8 && binary.BigEndian.Uint64(k) > b.Sequence() {
				if err := b.SetSequence(binary.BigEndian.Uint64(k)); err != nil {
					return err
				}
			}
		}
		events := tx.Bucket(bucketEvents)
		var maxSeq uint64
		events.ForEach(func(k, _ []byte) error {
			maxSeq = max(maxSeq, binary.BigEndian.Uint64(k[len(k)-8:]))
			return nil
		})
		if maxSeq > events.Sequence() {
			if err := events.SetSequence(maxSeq); err != nil {
				return err
			}
		}
		if err := rebuildSortIndexes(tx, tx.Bucket(bucketSuppressions)); err != nil {
			return err
		}
		if err := countAll(tx); err != nil {
			return err
		}
		if err := countRawBytes(tx, true); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyIndexed, []byte("1"))
	})
	if err != nil {
		return fmt.Errorf("store: finish load: %w", err)
	}
	return nil
}
