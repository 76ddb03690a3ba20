package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// LiftMatching lifts every suppression f selects (store.BulkLifter). It
// walks the suppression list in address order, a chunk of matches at a
// time in a read transaction, and lifts each chunk in a write transaction
// that checks every address again, so that a chunk is all or nothing and
// what changed between the two is left as it now is.
func (db *DB) LiftMatching(ctx context.Context, actor string, f store.LiftFilter, note string, dryRun bool) (store.LiftResult, error) {
	return store.LiftInChunks(db.now(), actor, f, note, dryRun,
		func(f store.LiftFilter, after string, limit int, res *store.LiftResult) ([]string, int, error) {
			return db.matching(ctx, f, after, limit, res)
		},
		func(actor string, f store.LiftFilter, addrs []string) (int, error) {
			return db.liftChunk(ctx, actor, f, note, addrs)
		})
}

// matching returns the addresses after after that f selects, at most
// limit, and adds to res.Sample; n counts them. With limit 0 it counts
// them all and returns no address.
func (db *DB) matching(ctx context.Context, f store.LiftFilter, after string, limit int, res *store.LiftResult) (addrs []string, n int, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		suppressions, recipients := tx.Bucket(bucketSuppressions), tx.Bucket(bucketRecipients)
		c := suppressions.Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for i := 0; k != nil; k, v = c.Next() {
			if i++; i%checkCtxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ok, s, err := liftMatches(recipients, f, k, v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			n++
			if len(res.Sample) < store.LiftSampleSize {
				res.Sample = append(res.Sample, s)
			}
			if limit > 0 {
				if addrs = append(addrs, s.Address); len(addrs) == limit {
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: bulk lift: %w", err)
	}
	return addrs, n, nil
}

// liftMatches decodes a suppression and reports whether f selects it.
func liftMatches(recipients *bolt.Bucket, f store.LiftFilter, k, v []byte) (bool, store.Suppression, error) {
	s, err := decodeSuppression(k, v)
	if err != nil {
		return false, s, err
	}
	lastClass := ""
	if f.Class != "" {
		r, err := listedRecipient(recipients, k)
		if err != nil {
			return false, s, err
		}
		if r != nil {
			lastClass = r.LastClass
		}
	}
	return f.Matches(s, lastClass), s, nil
}

// liftChunk lifts the addresses that f still selects, in one transaction.
func (db *DB) liftChunk(ctx context.Context, actor string, f store.LiftFilter, note string, addrs []string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: bulk lift: %w", err)
	}
	if !db.writers.TryRLock() {
		return 0, fmt.Errorf("store: bulk lift: %w", store.ErrRebuilding)
	}
	defer db.writers.RUnlock()
	now := db.now().UTC().Round(0)
	lifted := 0
	err := db.update(func(tx *bolt.Tx) error {
		state := liveState(tx)
		lifted = 0
		for _, addr := range addrs {
			v := state.suppressions.Get([]byte(addr))
			if v == nil {
				continue // lifted meanwhile
			}
			ok, _, err := liftMatches(state.recipients, f, []byte(addr), v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			before, err := applyLift(state, addr, now, store.AdminEvent(addr, store.AdminLift, note))
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			if err := db.appendAudit(state, store.AuditEntry{Address: addr, Action: store.AuditLift, Actor: actor, Before: before, Note: note}); err != nil {
				return err
			}
			lifted++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: bulk lift: %w", err)
	}
	if lifted > 0 {
		db.notifyAudit()
	}
	return lifted, nil
}
