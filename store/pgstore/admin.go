package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// SuppressAs puts m on the suppression list, recorded in the audit trail
// as done by actor, unless its address is suppressed already; it reports
// whether it added the suppression.
func (db *DB) SuppressAs(ctx context.Context, actor string, m store.ManualSuppression) (store.Suppression, bool, error) {
	res, err := db.SuppressMany(ctx, actor, []store.ManualSuppression{m})
	if err != nil {
		return store.Suppression{}, false, err
	}
	return res[0].Suppression, res[0].Added, res[0].Err
}

// SuppressMany applies a list of manual suppressions in one transaction.
// An invalid address fails only its own entry; a storage failure fails
// the call and writes nothing.
func (db *DB) SuppressMany(ctx context.Context, actor string, list []store.ManualSuppression) ([]store.SuppressResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: suppress: %w", err)
	}
	if actor == "" {
		actor = store.ActorAdmin
	}
	now := db.now()
	var res []store.SuppressResult
	todo := make([]store.Suppression, len(list))
	var addrs []string
	for i, m := range list {
		s, err := m.Resolve(now)
		if err == nil {
			addrs = append(addrs, s.Address)
		}
		todo[i] = s
	}
	added := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		res, added = make([]store.SuppressResult, len(list)), false
		if err := takeWriters(ctx, tx); err != nil {
			return err
		}
		w := db.newWork(tx, false)
		if err := w.load(ctx, addrs); err != nil {
			return err
		}
		for i, s := range todo {
			if s.Address == "" {
				_, res[i].Err = list[i].Resolve(now)
				continue
			}
			if old := w.addrs[s.Address].supp; old != nil {
				res[i] = store.SuppressResult{Suppression: *old}
				continue
			}
			if _, err := w.applySuppress(s, store.SuppressEvent(s, list[i].Note)); err != nil {
				return fmt.Errorf("%s: %w", s.Address, err)
			}
			w.audit = append(w.audit, store.AuditEntry{Address: s.Address, Action: store.AuditSuppress, Actor: actor, After: &s, Note: list[i].Note})
			res[i] = store.SuppressResult{Suppression: s, Added: true}
			added = true
		}
		return w.flush(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("store: suppress: %w", err)
	}
	if added {
		db.notifyAudit()
	}
	return res, nil
}

// LiftAs takes addr off the suppression list and resets what the policy
// counts, recorded in the audit trail as done by actor. It returns the
// suppression it lifted, nil if there was none, and store.ErrNotFound for
// an address the store has never seen.
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
	var lifted *store.Suppression
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if err := takeWriters(ctx, tx); err != nil {
			return err
		}
		w := db.newWork(tx, false)
		if err := w.load(ctx, []string{key}); err != nil {
			return err
		}
		if st := w.addrs[key]; !st.exists && st.supp == nil {
			return store.ErrNotFound
		}
		at := w.now.UTC().Round(0)
		var err error
		if lifted, err = w.applyLift(key, at, store.AdminEvent(key, store.AdminLift, note)); err != nil {
			return err
		}
		w.audit = append(w.audit, store.AuditEntry{Address: key, Action: store.AuditLift, Actor: actor, Before: lifted, Note: note})
		return w.flush(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("store: lift %s: %w", key, err)
	}
	db.notifyAudit()
	return lifted, nil
}
