package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// History returns addr's events before the one numbered before (0: from
// the latest), newest first, at most limit (at most store.MaxHistory),
// and the before of the next page, 0 after the last.
func (db *DB) History(ctx context.Context, addr string, before uint64, limit int) ([]store.Event, uint64, error) {
	key, err := store.Normalize(addr)
	if err != nil {
		return nil, 0, err
	}
	if limit <= 0 || limit > store.MaxHistory {
		limit = store.MaxHistory
	}
	rows, err := db.pool.Query(ctx, `SELECT seq, time, message_id, obs FROM events
		WHERE address = $1 AND ($2 = 0 OR seq < $2) ORDER BY seq DESC LIMIT $3`, key, int64(before), limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("store: history %s: %w", key, err)
	}
	events, err := appendEvents(nil, rows)
	if err != nil {
		return nil, 0, fmt.Errorf("store: history %s: %w", key, err)
	}
	var next uint64
	if len(events) > limit {
		events = events[:limit]
		next = events[limit-1].Seq
	}
	return events, next, nil
}

// sortColumns are the ORDER BY of each order of QuerySuppressions, ties
// by address; each has an index (migration 2, and the primary key).
var sortColumns = map[string]string{
	store.SortSince:   "s.since %[1]s, s.address %[1]s",
	store.SortAddress: "s.address %[1]s",
	store.SortReason:  `s.reason COLLATE "C" %[1]s, s.address %[1]s`,
	store.SortDetail:  `s.detail COLLATE "C" %[1]s, s.address %[1]s`,
}

// QuerySuppressions returns the page of the suppressions q selects, in
// q's order, and how many match in all, from one snapshot.
func (db *DB) QuerySuppressions(ctx context.Context, q store.SuppressionQuery) ([]store.ListedSuppression, int, error) {
	if q.Limit <= 0 || q.Limit > store.MaxListPage {
		q.Limit = store.MaxListPage
	}
	order, ok := sortColumns[q.Sort]
	if !ok {
		order = sortColumns[store.SortSince]
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := filterWhere(q.SuppressionFilter, arg)
	from := " FROM suppressions s LEFT JOIN recipients r USING (address) WHERE true" + where
	countArgs := len(args)
	list := listedSelect + from +
		" ORDER BY " + fmt.Sprintf(order, dir) + " OFFSET " + arg(max(q.Offset, 0)) + " LIMIT " + arg(q.Limit)
	var (
		page  []store.ListedSuppression
		total int
	)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*)"+from, args[:countArgs]...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, list, args...)
		if err != nil {
			return err
		}
		page, err = appendListed(page, rows)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: query suppressions: %w", err)
	}
	return page, total, nil
}

// appendEvents appends the events of rows of (seq, at, message_id,
// observation) to events.
func appendEvents(events []store.Event, rows pgx.Rows) ([]store.Event, error) {
	var (
		seq, at, msg int64
		obs          []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&seq, &at, &msg, &obs}, func() error {
		var o observationRecord
		if err := json.Unmarshal(obs, &o); err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		events = append(events, store.Event{Seq: uint64(seq), Time: fromNanos(at), MessageID: uint64(msg), Observation: store.Observation(o)})
		return nil
	})
	return events, err
}

// listedSelect selects, from suppressions s joined to recipients r, the
// columns appendListed reads.
const listedSelect = `SELECT s.address, s.reason, s.detail, s.since, s.decoder, s.rule, coalesce(r.last_class, ''), coalesce(r.last_reason, ''),
		coalesce(r.last_status, ''), coalesce(r.last_bounce, 0)`

// appendListed appends the suppressions of rows of listedSelect to page.
func appendListed(page []store.ListedSuppression, rows pgx.Rows) ([]store.ListedSuppression, error) {
	var (
		it            store.ListedSuppression
		since, bounce int64
	)
	_, err := pgx.ForEachRow(rows, []any{&it.Address, &it.Reason, &it.Detail, &since, &it.Decoder, &it.Rule, &it.LastClass, &it.LastReason, &it.LastStatus, &bounce}, func() error {
		it.Since = fromNanos(since)
		it.LastBounce = timeOrZero(bounce)
		page = append(page, it)
		return nil
	})
	return page, err
}
