package store

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The Reason of an admin event names the action; Rebuild replays them.
const (
	adminSuppress = "suppress"
	adminLift     = "lift"
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
	if !db.writers.TryRLock() {
		return Suppression{}, fmt.Errorf("store: suppress %s: %w", key, ErrRebuilding)
	}
	defer db.writers.RUnlock()
	now := db.now().UTC().Round(0)
	s := Suppression{Address: key, Reason: "manual", Detail: reason, Since: now}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSuppressions).Get([]byte(key)); v != nil {
			s, err = decodeSuppression([]byte(key), v)
			return err
		}
		// The event keeps the reason too, so that Rebuild can restore the
		// suppression as it was.
		ev := adminEvent(key, adminSuppress, note)
		ev.Diagnostic = reason
		return applySuppress(liveState(tx), s, ev)
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
	if !db.writers.TryRLock() {
		return fmt.Errorf("store: lift %s: %w", key, ErrRebuilding)
	}
	defer db.writers.RUnlock()
	now := db.now().UTC().Round(0)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		state := liveState(tx)
		known := state.suppressions.Get([]byte(key)) != nil || state.recipients.Get([]byte(key)) != nil
		if !known {
			return ErrNotFound
		}
		return applyLift(state, key, now, adminEvent(key, adminLift, note))
	})
	if err != nil {
		return fmt.Errorf("store: lift %s: %w", key, err)
	}
	return nil
}

func adminEvent(addr, action, note string) Observation {
	return Observation{Recipient: addr, Class: classAdmin, Reason: action, Decoder: "admin", Detail: note}
}

// applySuppress records the admin event ev and suppresses s.Address with s
// unless it is already suppressed.
func applySuppress(b stateBuckets, s Suppression, ev Observation) error {
	r, err := loadRecipient(b.recipients, s.Address)
	if err != nil {
		return err
	}
	if err := appendEvent(b.events, s.Address, s.Since, 0, ev); err != nil {
		return err
	}
	if err := suppressTx(b, s); err != nil {
		return err
	}
	return saveRecipient(b.recipients, r)
}

// applyLift records the admin event ev, removes addr's suppression and
// forgets what the policy counted up to at.
func applyLift(b stateBuckets, addr string, at time.Time, ev Observation) error {
	if err := unsuppressTx(b, addr); err != nil {
		return err
	}
	r, err := loadRecipient(b.recipients, addr)
	if err != nil {
		return err
	}
	r.Complaints = 0
	r.clearStreaks(at)
	if err := appendEvent(b.events, addr, at, 0, ev); err != nil {
		return err
	}
	return saveRecipient(b.recipients, r)
}
