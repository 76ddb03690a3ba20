package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// LiftMatching lifts every suppression f selects (store.BulkLifter): a
// query in address order finds a chunk of them, and one transaction lifts
// the chunk, locking its addresses and checking each again under the
// filter (store.LiftFilter.Matches has the last word, as in the bbolt
// engine).
func (db *DB) LiftMatching(ctx context.Context, actor string, f store.LiftFilter, note string, dryRun bool) (store.LiftResult, error) {
	return store.LiftInChunks(db.now(), actor, f, note, dryRun,
		func(f store.LiftFilter, after string, limit int, res *store.LiftResult) ([]string, int, error) {
			return db.liftCandidates(ctx, f, after, limit, res)
		},
		func(actor string, f store.LiftFilter, addrs []string) (int, error) {
			return db.liftChunk(ctx, actor, f, note, addrs)
		})
}

// liftCandidates returns the addresses after after that f selects, at most
// limit, and adds to res.Sample; n counts them. With limit 0 it counts
// them all and returns no address.
func (db *DB) liftCandidates(ctx context.Context, f store.LiftFilter, after string, limit int, res *store.LiftResult) (addrs []string, n int, err error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	q := `SELECT s.address, s.reason, s.detail, s.since, s.decoder, s.rule, coalesce(r.last_class, '')
		FROM suppressions s LEFT JOIN recipients r USING (address) WHERE s.address > ` + arg(after) + filterWhere(f.SuppressionFilter, arg)
	switch f.Source {
	case store.SourcePolicy:
		q += " AND s.reason NOT IN ('manual', 'import')"
	case store.SourceManual, store.SourceImport:
		q += " AND s.reason = " + arg(f.Source)
	}
	for col, v := range map[string]string{"detail": f.Detail, "decoder": f.Decoder, "rule": f.Rule} {
		if v != "" {
			q += " AND s." + col + " = " + arg(v)
		}
	}
	q += " ORDER BY s.address"
	if limit > 0 {
		q += " LIMIT " + arg(limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: bulk lift: %w", err)
	}
	var (
		s         store.Suppression
		since     int64
		lastClass string
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Address, &s.Reason, &s.Detail, &since, &s.Decoder, &s.Rule, &lastClass}, func() error {
		s.Since = fromNanos(since)
		if !f.Matches(s, lastClass) {
			return nil
		}
		n++
		if len(res.Sample) < store.LiftSampleSize {
			res.Sample = append(res.Sample, s)
		}
		if limit > 0 {
			addrs = append(addrs, s.Address)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: bulk lift: %w", err)
	}
	return addrs, n, nil
}

// liftChunk lifts the addresses that f still selects, in one transaction.
func (db *DB) liftChunk(ctx context.Context, actor string, f store.LiftFilter, note string, addrs []string) (int, error) {
	lifted := 0
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := takeWriters(ctx, tx); err != nil {
			return err
		}
		w := db.newWork(tx, false)
		if err := w.load(ctx, addrs); err != nil {
			return err
		}
		at := w.now.UTC().Round(0)
		lifted = 0
		for _, addr := range addrs {
			st := w.addrs[addr]
			if st.supp == nil || !f.Matches(*st.supp, st.rec.LastClass) {
				continue // lifted or changed meanwhile
			}
			before, err := w.applyLift(addr, at, store.AdminEvent(addr, store.AdminLift, note))
			if err != nil {
				return err
			}
			w.audit = append(w.audit, store.AuditEntry{Address: addr, Action: store.AuditLift, Actor: actor, Before: before, Note: note})
			lifted++
		}
		return w.flush(ctx)
	})
	if err != nil {
		return 0, fmt.Errorf("store: bulk lift: %w", err)
	}
	if lifted > 0 {
		db.notifyAudit()
	}
	return lifted, nil
}
