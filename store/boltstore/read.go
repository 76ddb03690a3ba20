package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Suppression returns addr's suppression, or ErrNotFound if it is not suppressed.
func (db *DB) Suppression(ctx context.Context, addr string) (store.Suppression, error) {
	if err := ctx.Err(); err != nil {
		return store.Suppression{}, fmt.Errorf("store: suppression: %w", err)
	}
	key, err := store.Normalize(addr)
	if err != nil {
		return store.Suppression{}, err
	}
	var s store.Suppression
	err = db.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSuppressions).Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		s, err = decodeSuppression([]byte(key), v)
		return err
	})
	if err != nil {
		return store.Suppression{}, fmt.Errorf("store: suppression %s: %w", key, err)
	}
	return s, nil
}

// checkCtxEvery is how many addresses Check looks up between looks at ctx.
const checkCtxEvery = 4096

// Check answers for a whole send list at once: the result has one entry
// per input address, in order, nil where the address is not suppressed or
// not valid. It normalises outside the read transaction and looks every
// address up in that one transaction.
func (db *DB) Check(ctx context.Context, addrs []string) ([]*store.Suppression, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	keys := make([][]byte, len(addrs))
	for i, a := range addrs {
		if k, err := store.Normalize(a); err == nil {
			keys[i] = []byte(k)
		}
	}
	out := make([]*store.Suppression, len(addrs))
	err := db.view(func(tx *bolt.Tx) error {
		// One cursor for all: Bucket.Get would make one per address.
		c := tx.Bucket(bucketSuppressions).Cursor()
		for i, k := range keys {
			if i%checkCtxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if k == nil {
				continue
			}
			if found, v := c.Seek(k); bytes.Equal(found, k) {
				s, err := decodeSuppression(k, v)
				if err != nil {
					return err
				}
				out[i] = &s
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	return out, nil
}

// Recipient returns addr's record and its latest MaxHistory events in the
// order they were recorded, or ErrNotFound if the store has never seen the
// address.
func (db *DB) Recipient(ctx context.Context, addr string) (store.Recipient, []store.Event, error) {
	if err := ctx.Err(); err != nil {
		return store.Recipient{}, nil, fmt.Errorf("store: recipient: %w", err)
	}
	key, err := store.Normalize(addr)
	if err != nil {
		return store.Recipient{}, nil, err
	}
	var (
		r      store.Recipient
		events []store.Event
	)
	err = db.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecipients).Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		var ref diagRef
		if r, ref, err = decodeRecipient(key, v); err != nil {
			return err
		}
		if err := newHeadReader(tx.Bucket(bucketMessages)).lastDiagnostic(&r, ref); err != nil {
			return err
		}
		if v := tx.Bucket(bucketSuppressions).Get([]byte(key)); v != nil {
			s, err := decodeSuppression([]byte(key), v)
			if err != nil {
				return err
			}
			r.Suppressed, r.Suppression = true, &s
		}
		events, err = history(tx, key, store.MaxHistory)
		return err
	})
	if err != nil {
		return store.Recipient{}, nil, fmt.Errorf("store: recipient %s: %w", key, err)
	}
	return r, events, nil
}

// history returns the latest limit events of addr, oldest first.
func history(tx *bolt.Tx, addr string, limit int) ([]store.Event, error) {
	prefix := eventPrefix(addr)
	// Every key of addr sorts below addr+0x01: seek there and walk back.
	c := tx.Bucket(bucketEvents).Cursor()
	hr := newHeadReader(tx.Bucket(bucketMessages))
	k, v := seekBelow(c, append([]byte(addr), 1))
	var events []store.Event
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(events) < limit; k, v = c.Prev() {
		e, err := hr.event(k, v)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	slices.Reverse(events)
	return events, nil
}

// History returns addr's events recorded before the event whose Seq is
// before (0: from the latest), newest first, at most limit of them
// (store.MaxHistory when limit is not positive or larger), and the Seq to pass
// as before for the next page, 0 after the last. An address the store has
// never seen has no events.
func (db *DB) History(ctx context.Context, addr string, before uint64, limit int) ([]store.Event, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: history: %w", err)
	}
	key, err := store.Normalize(addr)
	if err != nil {
		return nil, 0, err
	}
	if limit <= 0 || limit > store.MaxHistory {
		limit = store.MaxHistory
	}
	var (
		events []store.Event
		next   uint64
	)
	err = db.view(func(tx *bolt.Tx) error {
		prefix := eventPrefix(key)
		c := tx.Bucket(bucketEvents).Cursor()
		hr := newHeadReader(tx.Bucket(bucketMessages))
		from := append([]byte(key), 1) // above every key of addr
		if before != 0 {
			from = eventKey(key, before)
		}
		k, v := seekBelow(c, from)
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(events) == limit {
				next = events[len(events)-1].Seq
				return nil
			}
			e, err := hr.event(k, v)
			if err != nil {
				return err
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: history %s: %w", key, err)
	}
	return events, next, nil
}

// seekBelow moves c to the largest key below key and returns it, or nil
// if no key is below key.
func seekBelow(c *bolt.Cursor, key []byte) ([]byte, []byte) {
	if k, _ := c.Seek(key); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// RawMessage returns the bytes of message id as received, ErrNotFound for
// no such message, or ErrPruned (which wraps ErrNotFound) once the
// retention dropped them.
func (db *DB) RawMessage(ctx context.Context, id uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: raw message %d: %w", id, err)
	}
	var stored []byte
	err := db.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRaw).Get(u64(id))
		if v == nil {
			if tx.Bucket(bucketMessages).Get(u64(id)) != nil {
				return store.ErrPruned
			}
			return store.ErrNotFound
		}
		stored = bytes.Clone(v) // inflate after the transaction, not while holding it
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: raw message %d: %w", id, err)
	}
	raw, err := db.decompress(stored, 0)
	if errors.Is(err, errSegmentGone) {
		return nil, fmt.Errorf("store: raw message %d: %w (%w)", id, store.ErrPruned, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: raw message %d: %w", id, err)
	}
	return raw, nil
}

// Suppressions lists suppressed addresses in address order, starting after
// the address after ("" for the first page), at most limit of them (at most
// MaxHistory when limit is not positive).
func (db *DB) Suppressions(ctx context.Context, after string, limit int) ([]store.Suppression, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: suppressions: %w", err)
	}
	if limit <= 0 || limit > store.MaxHistory {
		limit = store.MaxHistory
	}
	var list []store.Suppression
	err := db.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSuppressions).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(list) < limit; k, v = c.Next() {
			s, err := decodeSuppression(k, v)
			if err != nil {
				return err
			}
			list = append(list, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: suppressions: %w", err)
	}
	return list, nil
}
