package boltstore

import (
	"context"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Suppress puts addr on the suppression list by hand, with Reason "manual"
// and Detail reason; note goes into the address's history. If addr is
// already suppressed, that suppression stands and is returned unchanged.
// The audit trail names ActorAdmin; SuppressAs names another actor.
func (db *DB) Suppress(ctx context.Context, addr, reason, note string) (store.Suppression, error) {
	s, _, err := db.SuppressAs(ctx, store.ActorAdmin, store.ManualSuppression{Address: addr, Detail: reason, Note: note})
	return s, err
}

// SuppressAs is Suppress for m, recorded in the audit trail as done by
// actor. It reports whether it added the suppression.
func (db *DB) SuppressAs(ctx context.Context, actor string, m store.ManualSuppression) (store.Suppression, bool, error) {
	res, err := db.SuppressMany(ctx, actor, []store.ManualSuppression{m})
	if err != nil {
		return store.Suppression{}, false, err
	}
	return res[0].Suppression, res[0].Added, res[0].Err
}

// SuppressMany applies a list of manual suppressions in one transaction
// (an import's chunk: one fsync for all), each as SuppressAs would. The
// result has one entry per input, in order. An invalid address fails only
// its own entry; a storage failure fails the call and writes nothing.
func (db *DB) SuppressMany(ctx context.Context, actor string, list []store.ManualSuppression) ([]store.SuppressResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: suppress: %w", err)
	}
	if actor == "" {
		actor = store.ActorAdmin
	}
	now := db.now()
	res := make([]store.SuppressResult, len(list))
	todo := make([]store.Suppression, len(list))
	for i, m := range list {
		s, err := m.Resolve(now)
		if err != nil {
			res[i].Err = err
			continue
		}
		todo[i] = s
	}
	if !db.writers.TryRLock() {
		return nil, fmt.Errorf("store: suppress: %w", store.ErrRebuilding)
	}
	defer db.writers.RUnlock()
	added := false
	err := db.update(func(tx *bolt.Tx) error {
		state := liveState(tx)
		added = false
		for i, s := range todo {
			if res[i].Err != nil {
				continue
			}
			if v := state.suppressions.Get([]byte(s.Address)); v != nil {
				old, err := decodeSuppression([]byte(s.Address), v)
				if err != nil {
					return err
				}
				res[i] = store.SuppressResult{Suppression: old}
				continue
			}
			if err := applySuppress(state, s, store.SuppressEvent(s, list[i].Note)); err != nil {
				return fmt.Errorf("%s: %w", s.Address, err)
			}
			err := db.appendAudit(state, store.AuditEntry{Address: s.Address, Action: store.AuditSuppress, Actor: actor,
				After: &s, Note: list[i].Note})
			if err != nil {
				return err
			}
			res[i] = store.SuppressResult{Suppression: s, Added: true}
			added = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: suppress: %w", err)
	}
	if added {
		db.notifyAudit()
	}
	return res, nil
}

// Lift takes addr off the suppression list and resets what the policy
// counts (hard and soft streaks, complaints), so that it takes a fresh
// run of bounces to suppress it again; note goes into its history. The
// lifetime Counts stay. Lift works on an address that is not suppressed
// too (an admin vouching for it); it returns ErrNotFound only for an
// address the store has never seen. The audit trail names ActorAdmin;
// LiftAs names another actor.
func (db *DB) Lift(ctx context.Context, addr, note string) error {
	_, err := db.LiftAs(ctx, store.ActorAdmin, addr, note)
	return err
}

// LiftAs is Lift, recorded in the audit trail as done by actor. It returns
// the suppression it lifted, nil if the address was not suppressed.
func (db *DB) LiftAs(ctx context.Context, actor, addr, note string) (*store.Suppression, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: lift: %w", err)
	}
	key, err := store.Normalize(addr)
	if err != nil {
		return nil, err
	}
	if actor == "" {
		actor = store.ActorAdmin
	}
	if !db.writers.TryRLock() {
		return nil, fmt.Errorf("store: lift %s: %w", key, store.ErrRebuilding)
	}
	defer db.writers.RUnlock()
	now := db.now().UTC().Round(0)
	var lifted *store.Suppression
	err = db.update(func(tx *bolt.Tx) error {
		state := liveState(tx)
		known := state.suppressions.Get([]byte(key)) != nil || state.recipients.Get([]byte(key)) != nil
		if !known {
			return store.ErrNotFound
		}
		var err error
		if lifted, err = applyLift(state, key, now, store.AdminEvent(key, store.AdminLift, note)); err != nil {
			return err
		}
		return db.appendAudit(state, store.AuditEntry{Address: key, Action: store.AuditLift, Actor: actor, Before: lifted, Note: note})
	})
	if err != nil {
		return nil, fmt.Errorf("store: lift %s: %w", key, err)
	}
	db.notifyAudit()
	return lifted, nil
}

// applySuppress records the admin event ev and suppresses s.Address with s
// unless it is already suppressed.
func applySuppress(b stateBuckets, s store.Suppression, ev store.Observation) error {
	r, ref, err := loadRecipient(b.recipients, s.Address)
	if err != nil {
		return err
	}
	if err := appendEvent(b.events, s.Address, s.Since, ev); err != nil {
		return err
	}
	if _, err := suppressTx(b, s); err != nil {
		return err
	}
	return saveRecipient(b.recipients, r, ref)
}

// applyLift records the admin event ev, removes addr's suppression and
// forgets what the policy counted up to at. It returns the suppression it
// removed, nil if there was none.
func applyLift(b stateBuckets, addr string, at time.Time, ev store.Observation) (*store.Suppression, error) {
	lifted, err := unsuppressTx(b, addr)
	if err != nil {
		return nil, err
	}
	r, ref, err := loadRecipient(b.recipients, addr)
	if err != nil {
		return nil, err
	}
	r.ResetPolicy(at)
	if err := appendEvent(b.events, addr, at, ev); err != nil {
		return nil, err
	}
	return lifted, saveRecipient(b.recipients, r, ref)
}
