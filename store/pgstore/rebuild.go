package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// adminAction is a Suppress or Lift found in the history, to replay.
type adminAction struct {
	addr   string
	at     time.Time
	ev     store.Observation
	detail string // a manual suppression's Detail
}

// Rebuild replaces the observations of every stored message with those
// reobserve returns for it and rebuilds what the store derives from them,
// as the bbolt engine's Rebuild does (see its documentation for the
// replay's rules). It runs as one transaction that holds the writers'
// lock exclusively: Record, SuppressMany and LiftAs fail with
// store.ErrRebuilding on every instance until it ends, readers see the
// old state until it commits, and an error, a cancelled ctx or a lost
// connection leaves the store as it was. reobserve is called while the
// transaction is open.
func (db *DB) Rebuild(ctx context.Context, reobserve func(m store.StoredMessage) ([]store.Observation, error), opts store.RebuildOptions) (store.RebuildStats, error) {
	if reobserve == nil {
		return store.RebuildStats{}, errors.New("store: rebuild: no reobserve function")
	}
	if opts.ChunkMessages <= 0 {
		opts.ChunkMessages = store.DefaultRebuildChunk
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = store.DefaultRebuildChunkBytes
	}
	var st store.RebuildStats
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		st = store.RebuildStats{}
		return db.rebuild(ctx, tx, reobserve, opts, &st)
	})
	if err != nil {
		return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
	}
	if st.Added+st.Removed+st.Changed > 0 {
		db.notifyAudit()
	}
	return st, nil
}

func (db *DB) rebuild(ctx context.Context, tx pgx.Tx, reobserve func(m store.StoredMessage) ([]store.Observation, error), opts store.RebuildOptions, st *store.RebuildStats) error {
	// Custom plans, as in every write transaction (see writersSQL): the
	// tables empty and fill again within this one.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2), set_config('plan_cache_mode', 'force_custom_plan', true)", lockSpace, lockWriters); err != nil {
		return err
	}
	var total int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&total); err != nil {
		return err
	}
	admin, err := adminActions(ctx, tx)
	if err != nil {
		return err
	}
	st.AdminActions = len(admin)
	_, err = tx.Exec(ctx, `CREATE TEMP TABLE rebuild_old ON COMMIT DROP AS SELECT address, reason, detail, since, decoder, rule FROM suppressions;
		DELETE FROM events; DELETE FROM recipients; DELETE FROM suppressions; DELETE FROM counters;
		DELETE FROM sizes WHERE name NOT IN ('messages', 'raw_bytes', 'duplicates')`)
	if err != nil {
		return err
	}
	if opts.Progress != nil {
		opts.Progress(0, total)
	}
	next := 0 // admin[next] is the first not yet replayed
	replayAdmin := func(w *work, due func(adminAction) bool) error {
		for ; next < len(admin) && due(admin[next]); next++ {
			a := admin[next]
			var err error
			switch a.ev.Reason {
			case store.AdminSuppress:
				_, err = w.applySuppress(store.Suppression{Address: a.addr, Reason: cmp.Or(a.ev.Rule, store.ReasonManual), Detail: a.detail, Since: a.at}, a.ev)
			case store.AdminLift:
				_, err = w.applyLift(a.addr, a.at, a.ev)
			default:
				err = w.appendEvent(a.addr, a.at, 0, a.ev) // an action this build does not know: keep it
			}
			if err != nil {
				return fmt.Errorf("admin %s of %s at %s: %w", a.ev.Reason, a.addr, a.at.Format(time.RFC3339), err)
			}
		}
		return nil
	}
	after := uint64(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := readMessages(ctx, tx, after, opts.ChunkMessages, opts.ChunkBytes)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		w := db.newWork(tx, true)
		obs := make([][]store.Observation, len(page))
		var addrs []string
		for i, m := range page {
			if m.RawPruned {
				obs[i] = m.Observations // nothing to classify again: the verdicts stand
				st.NotReread++
			} else if obs[i], err = reobserve(m); err != nil {
				return fmt.Errorf("message %d: reobserve: %w", m.ID, err)
			}
			for _, o := range obs[i] {
				if a, err := store.Normalize(o.Recipient); err == nil {
					addrs = append(addrs, a)
				}
			}
		}
		last := page[len(page)-1].Received
		for j := next; j < len(admin) && admin[j].at.Before(last); j++ {
			addrs = append(addrs, admin[j].addr)
		}
		if err := w.load(ctx, addrs); err != nil {
			return err
		}
		var (
			ids   []int64
			heads [][]byte
		)
		for i, m := range page {
			if err := replayAdmin(w, func(a adminAction) bool { return a.at.Before(m.Received) }); err != nil {
				return err
			}
			h := messageHead{EnvelopeFrom: m.EnvelopeFrom, EnvelopeTo: m.EnvelopeTo, RawSize: len(m.Raw)}
			for _, o := range obs[i] {
				h.Observations = append(h.Observations, observationRecord(o))
				if a, err := store.Normalize(o.Recipient); err == nil {
					if _, err := w.observe(m.ID, m.Received, a, o); err != nil {
						return fmt.Errorf("message %d: %s: %w", m.ID, a, err)
					}
				}
			}
			st.Observations += len(obs[i])
			if m.RawPruned {
				continue // its head, with its raw size, stays as it is
			}
			head, err := json.Marshal(h)
			if err != nil {
				return err
			}
			ids, heads = append(ids, int64(m.ID)), append(heads, head)
		}
		if err := w.flush(ctx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE messages m SET head = v.h FROM unnest($1::bigint[], $2::bytea[]) AS v(id, h) WHERE m.id = v.id`, ids, heads); err != nil {
			return err
		}
		after = page[len(page)-1].ID
		st.Messages += len(page)
		if opts.Progress != nil {
			opts.Progress(st.Messages, total)
		}
	}
	w := db.newWork(tx, true)
	var addrs []string
	for _, a := range admin[next:] {
		addrs = append(addrs, a.addr)
	}
	if err := w.load(ctx, addrs); err != nil {
		return err
	}
	if err := replayAdmin(w, func(adminAction) bool { return true }); err != nil {
		return err
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	return db.finishRebuild(ctx, tx, st)
}

// finishRebuild compares the new suppressions with the old ones, audits
// the changes and counts the sizes anew.
func (db *DB) finishRebuild(ctx context.Context, tx pgx.Tx, st *store.RebuildStats) error {
	rows, err := tx.Query(ctx, `SELECT address, o.reason, o.detail, o.since, o.decoder, o.rule, n.reason, n.detail, n.since, n.decoder, n.rule
		FROM rebuild_old o FULL JOIN suppressions n USING (address) ORDER BY address`)
	if err != nil {
		return err
	}
	w := db.newWork(tx, false)
	var (
		addr                      string
		oreason, odetail, nreason *string
		ndetail                   *string
		odecoder, orule           *string
		ndecoder, nrule           *string
		osince, nsince            *int64
	)
	_, err = pgx.ForEachRow(rows, []any{&addr, &oreason, &odetail, &osince, &odecoder, &orule, &nreason, &ndetail, &nsince, &ndecoder, &nrule}, func() error {
		var before, after *store.Suppression
		if oreason != nil {
			before = &store.Suppression{Address: addr, Reason: *oreason, Detail: *odetail, Since: fromNanos(*osince), Decoder: *odecoder, Rule: *orule}
			st.SuppressedBefore++
		}
		if nreason != nil {
			after = &store.Suppression{Address: addr, Reason: *nreason, Detail: *ndetail, Since: fromNanos(*nsince), Decoder: *ndecoder, Rule: *nrule}
			st.SuppressedAfter++
		}
		e := store.AuditEntry{Address: addr, Actor: store.ActorReclassify, Before: before, After: after, Action: store.AuditChange}
		switch {
		case before == nil:
			e.Action = store.AuditSuppress
			st.Added++
		case after == nil:
			e.Action = store.AuditLift
			st.Removed++
		case before.Reason != after.Reason:
			st.Changed++
		default:
			return nil
		}
		if len(st.Changes) < store.MaxRebuildChanges {
			st.Changes = append(st.Changes, store.SuppressionChange{Address: addr, Before: before, After: after})
		}
		w.audit = append(w.audit, e)
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO sizes (name, n)
		SELECT 'recipients', count(*) FROM recipients
		UNION ALL SELECT 'events', count(*) FROM events
		UNION ALL SELECT 'suppressed/' || reason, count(*) FROM suppressions GROUP BY reason`)
	if err != nil {
		return err
	}
	return tx.QueryRow(ctx, "SELECT count(*) FROM recipients").Scan(&st.Recipients)
}

// adminActions returns every admin event in the history, oldest first.
func adminActions(ctx context.Context, tx pgx.Tx) ([]adminAction, error) {
	rows, err := tx.Query(ctx, `SELECT e.address, e.time, e.obs, s.reason, s.detail, s.since
		FROM events e LEFT JOIN suppressions s USING (address)
		WHERE e.class = $1 ORDER BY e.time, e.seq`, store.ClassAdmin)
	if err != nil {
		return nil, err
	}
	var (
		list          []adminAction
		addr          string
		at            int64
		obs           []byte
		sreason, sdet *string
		ssince        *int64
	)
	_, err = pgx.ForEachRow(rows, []any{&addr, &at, &obs, &sreason, &sdet, &ssince}, func() error {
		var o observationRecord
		if err := json.Unmarshal(obs, &o); err != nil {
			return fmt.Errorf("admin event of %s: %w", addr, err)
		}
		a := adminAction{addr: addr, at: fromNanos(at), ev: store.Observation(o)}
		if a.ev.Reason == store.AdminSuppress {
			// Suppress keeps the Detail in the event's Diagnostic; events
			// written before it did have it only in the suppression
			// itself, if that is still the one the event made.
			a.detail = a.ev.Diagnostic
			if a.detail == "" && sreason != nil && *sreason == cmp.Or(a.ev.Rule, store.ReasonManual) && *ssince == at {
				a.detail = *sdet
			}
		}
		list = append(list, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin events: %w", err)
	}
	return list, nil
}
