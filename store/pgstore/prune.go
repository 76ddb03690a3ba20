package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// pruneBatch bounds the rows one prune transaction changes, so that it
// holds its locks (the writers' lock, shared, and the rows') briefly.
const pruneBatch = 256

// Prune deletes what r says has expired at now (see store.Pruner), a
// transaction per pruneBatch rows. Every transaction takes the writers'
// lock shared, as Record does: it fails with store.ErrRebuilding while a
// Rebuild runs on any instance. Several instances may prune at once; each
// row goes once.
func (db *DB) Prune(ctx context.Context, r store.Retention, now time.Time) (store.PruneStats, error) {
	var st store.PruneStats
	if err := r.Validate(); err != nil {
		return st, err
	}
	err := func() error {
		if r.RawMessages > 0 {
			if err := db.pruneRaw(ctx, nanos(now.Add(-r.RawMessages)), &st); err != nil {
				return fmt.Errorf("raw messages: %w", err)
			}
		}
		if r.Events > 0 {
			if err := db.pruneOldEvents(ctx, nanos(now.Add(-r.Events)), &st); err != nil {
				return fmt.Errorf("events: %w", err)
			}
		}
		if r.EventsPerRecipient > 0 {
			if err := db.pruneEventsBeyond(ctx, r.EventsPerRecipient, &st); err != nil {
				return fmt.Errorf("events: %w", err)
			}
		}
		if err := db.pruneDays(ctx, dayOf(now)-(store.MaxActivityDays-1), &st); err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		return nil
	}()
	if err != nil {
		return st, fmt.Errorf("store: prune: %w", err)
	}
	return st, nil
}

// pruneStep runs one prune transaction; fn returns the rows it changed.
func (db *DB) pruneStep(ctx context.Context, fn func(pgx.Tx) (int, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := takeWriters(ctx, tx); err != nil {
			return err
		}
		var err error
		n, err = fn(tx)
		return err
	})
	return n, err
}

// pruneRaw sets to NULL the raw bytes of the messages received before
// cutoff (Unix nanoseconds), oldest first.
func (db *DB) pruneRaw(ctx context.Context, cutoff int64, st *store.PruneStats) error {
	for {
		var size int64
		n, err := db.pruneStep(ctx, func(tx pgx.Tx) (int, error) {
			var n int
			err := tx.QueryRow(ctx, `WITH p AS (
					SELECT id, octet_length(raw) AS size, raw_size FROM messages
					WHERE raw IS NOT NULL AND received < $1 ORDER BY received LIMIT $2
					FOR UPDATE SKIP LOCKED),
				u AS (UPDATE messages m SET raw = NULL FROM p WHERE m.id = p.id),
				k AS (INSERT INTO sizes (name, n) SELECT 'raw_bytes', -sum(raw_size) FROM p HAVING count(*) > 0)
				SELECT count(*), coalesce(sum(size), 0) FROM p`, cutoff, pruneBatch).Scan(&n, &size)
			return n, err
		})
		if err != nil {
			return err
		}
		st.RawMessages += n
		st.RawBytes += size
		if n < pruneBatch {
			return nil
		}
	}
}

// deleteEvents deletes the events the query (returning seq, given $1 and
// the limit $2) selects, pruneBatch at a time, counting them out of the
// sizes.
func (db *DB) deleteEvents(ctx context.Context, query string, arg any, st *store.PruneStats) error {
	for {
		n, err := db.pruneStep(ctx, func(tx pgx.Tx) (int, error) {
			var n int
			err := tx.QueryRow(ctx, `WITH d AS (DELETE FROM events WHERE seq IN (`+query+`) RETURNING 1),
				s AS (INSERT INTO sizes SELECT 'events', -count(*) FROM d)
				SELECT count(*) FROM d`, arg, pruneBatch).Scan(&n)
			return n, err
		})
		if err != nil {
			return err
		}
		st.Events += n
		if n < pruneBatch {
			return nil
		}
	}
}

// pruneOldEvents deletes the events older than cutoff, admin events aside.
func (db *DB) pruneOldEvents(ctx context.Context, cutoff int64, st *store.PruneStats) error {
	return db.deleteEvents(ctx, `SELECT seq FROM events WHERE class <> 'admin' AND time < $1
		ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, st)
}

// pruneEventsBeyond deletes each address's events beyond its latest keep,
// admin events aside (kept and not counted).
func (db *DB) pruneEventsBeyond(ctx context.Context, keep int, st *store.PruneStats) error {
	rows, err := db.pool.Query(ctx, `SELECT address FROM events WHERE class <> 'admin'
		GROUP BY address HAVING count(*) > $1`, keep)
	if err != nil {
		return err
	}
	addrs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		// The keep-th newest event of addr bounds what goes; events
		// recorded meanwhile are newer, so none of them does.
		var bound int64
		err := db.pool.QueryRow(ctx, `SELECT seq FROM events WHERE address = $1 AND class <> 'admin'
			ORDER BY seq DESC OFFSET $2 LIMIT 1`, addr, keep-1).Scan(&bound)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // pruned meanwhile
		}
		if err != nil {
			return err
		}
		err = db.deleteEvents(ctx, `SELECT seq FROM events WHERE address = $1 AND class <> 'admin' AND seq < `+
			fmt.Sprint(bound)+` ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`, addr, st)
		if err != nil {
			return err
		}
	}
	return nil
}

// pruneDays deletes the day counters before day first.
func (db *DB) pruneDays(ctx context.Context, first int32, st *store.PruneStats) error {
	for {
		n, err := db.pruneStep(ctx, func(tx pgx.Tx) (int, error) {
			tag, err := tx.Exec(ctx, `DELETE FROM counters WHERE ctid IN (
				SELECT ctid FROM counters WHERE gran = 'd' AND period < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, first, pruneBatch)
			return int(tag.RowsAffected()), err
		})
		if err != nil {
			return err
		}
		st.Counters += n
		if n < pruneBatch {
			return nil
		}
	}
}
