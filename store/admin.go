package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Suppress puts addr on the suppression list by hand, with Reason "manual"
// and Detail reason; note goes into the address's history. If addr is
// already suppressed, that suppression stands and is returned unchanged.
func (db *DB) Suppress(ctx context.Context, addr, reason, note string) (Suppression, error) {
	if err := ctx.Err(); err != nil {
		return Suppression{}, fmt.Errorf("store: suppress: %w", err)
	}
	key, err := Normalize(addr)
	if err != nil {
		return Suppression{}, err
	}
	now := db.now().UTC().Round(0)
	s := Suppression{Address: key, Reason: "manual", Detail: reason, Since: now}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSuppressions).Get([]byte(key)); v != nil {
			s, err = decodeSuppression([]byte(key), v)
			return err
		}
		r, err := loadRecipient(tx, key)
		if err != nil {
			return err
		}
		if err := appendEvent(tx, key, now, 0, adminEvent(key, "suppress", note)); err != nil {
			return err
		}
		if err := suppressTx(tx, s); err != nil {
			return err
		}
		return saveRecipient(tx, r)
	})
	if err != nil {
		return Suppression{}, fmt.Errorf("store: suppress %s: %w", key, err)
	}
	return s, nil
}

// Lift takes addr off the suppression list and resets what the policy
// counts (hard and soft streaks, complaints), so that it takes a fresh
// run of bounces to suppress it again; note goes into its history. The
// lifetime Counts stay. Lift works on an address that is not suppressed
// too (an admin vouching for it); it returns ErrNotFound only for an
// address the store has never seen.
func (db *DB) Lift(ctx context.Context, addr, note string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: lift: %w", err)
	}
	key, err := Normalize(addr)
	if err != nil {
		return err
	}
	now := db.now().UTC().Round(0)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		suppressions := tx.Bucket(bucketSuppressions)
		known := suppressions.Get([]byte(key)) != nil || tx.Bucket(bucketRecipients).Get([]byte(key)) != nil
		if !known {
			return ErrNotFound
		}
		if err := suppressions.Delete([]byte(key)); err != nil {
			return fmt.Errorf("suppression: %w", err)
		}
		r, err := loadRecipient(tx, key)
		if err != nil {
			return err
		}
		r.Complaints = 0
		r.clearStreaks(now)
		if err := appendEvent(tx, key, now, 0, adminEvent(key, "lift", note)); err != nil {
			return err
		}
		return saveRecipient(tx, r)
	})
	if err != nil {
		return fmt.Errorf("store: lift %s: %w", key, err)
	}
	return nil
}

func adminEvent(addr, action, note string) Observation {
	return Observation{Recipient: addr, Class: classAdmin, Reason: action, Decoder: "admin", Detail: note}
}
