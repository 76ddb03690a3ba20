package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// Suppression returns addr's suppression, or store.ErrNotFound.
func (db *DB) Suppression(ctx context.Context, addr string) (store.Suppression, error) {
	key, err := store.Normalize(addr)
	if err != nil {
		return store.Suppression{}, err
	}
	s := store.Suppression{Address: key}
	var since int64
	err = db.pool.QueryRow(ctx, "SELECT reason, detail, since, decoder, rule FROM suppressions WHERE address = $1", key).Scan(&s.Reason, &s.Detail, &since, &s.Decoder, &s.Rule)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Suppression{}, fmt.Errorf("store: suppression %s: %w", key, err)
	}
	s.Since = fromNanos(since)
	return s, nil
}

// Check answers for a whole send list in one query: one entry per input
// address, in order, nil where it is not suppressed or not valid.
func (db *DB) Check(ctx context.Context, addrs []string) ([]*store.Suppression, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	out := make([]*store.Suppression, len(addrs))
	keys := make([]string, len(addrs)) // "" where not an address
	valid := make([]string, 0, len(addrs))
	for i, a := range addrs {
		if k, err := store.Normalize(a); err == nil {
			keys[i] = k
			valid = append(valid, k)
		}
	}
	if len(valid) == 0 {
		return out, nil
	}
	// One index lookup per address (OFFSET 0 keeps the planner from
	// turning the lateral subquery into a join): the API hands the list
	// over 10,000 addresses at a time, and for such a chunk a hash join,
	// which a plan made for the list in hand picks, hashes or scans the
	// whole suppression list once per chunk (seconds per 100,000
	// addresses on a large list). = ANY does the lookups only in a generic
	// plan, and a custom one costs the planner about 1 ms per 100
	// elements besides.
	rows, err := db.pool.Query(ctx, `SELECT s.address, s.reason, s.detail, s.since, s.decoder, s.rule FROM unnest($1::text[]) AS k(address)
		CROSS JOIN LATERAL (SELECT * FROM suppressions s WHERE s.address = k.address OFFSET 0) s`, valid)
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	found := map[string]*store.Suppression{}
	var (
		s     store.Suppression
		since int64
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Address, &s.Reason, &s.Detail, &since, &s.Decoder, &s.Rule}, func() error {
		c := s
		c.Since = fromNanos(since)
		found[c.Address] = &c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	for i, k := range keys {
		if f := found[k]; f != nil && k != "" {
			c := *f // each entry its own: a caller may change one
			out[i] = &c
		}
	}
	return out, nil
}

// Recipient returns addr's record and its latest store.MaxHistory events
// in the order they were recorded, or store.ErrNotFound.
func (db *DB) Recipient(ctx context.Context, addr string) (store.Recipient, []store.Event, error) {
	key, err := store.Normalize(addr)
	if err != nil {
		return store.Recipient{}, nil, err
	}
	var (
		r      store.Recipient
		events []store.Event
	)
	// One snapshot for the three reads, so they agree.
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue("SELECT state FROM recipients WHERE address = $1", key)
		b.Queue("SELECT reason, detail, since, decoder, rule FROM suppressions WHERE address = $1", key)
		b.Queue("SELECT seq, time, message_id, obs FROM events WHERE address = $1 ORDER BY seq DESC LIMIT $2", key, store.MaxHistory)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		var state []byte
		if err := br.QueryRow().Scan(&state); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		var err error
		if r, err = decodeRecipient(state); err != nil {
			return err
		}
		s := store.Suppression{Address: key}
		var since int64
		switch err := br.QueryRow().Scan(&s.Reason, &s.Detail, &since, &s.Decoder, &s.Rule); {
		case err == nil:
			s.Since = fromNanos(since)
			r.Suppressed, r.Suppression = true, &s
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		rows, _ := br.Query()
		events, err = appendEvents(events, rows)
		if err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return store.Recipient{}, nil, fmt.Errorf("store: recipient %s: %w", key, err)
	}
	slices.Reverse(events)
	return r, events, nil
}

// RawMessage returns the bytes of message id as received,
// store.ErrNotFound, or store.ErrPruned once the retention dropped them.
func (db *DB) RawMessage(ctx context.Context, id uint64) ([]byte, error) {
	var v []byte
	err := db.pool.QueryRow(ctx, "SELECT raw FROM messages WHERE id = $1", int64(id)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	} else if err == nil && v == nil {
		err = store.ErrPruned
	}
	if err != nil {
		return nil, fmt.Errorf("store: raw message %d: %w", id, err)
	}
	raw, err := decompress(v)
	if err != nil {
		return nil, fmt.Errorf("store: raw message %d: %w", id, err)
	}
	return raw, nil
}

// Suppressions lists suppressed addresses in address order, after the
// address after, at most limit (at most store.MaxHistory) of them.
func (db *DB) Suppressions(ctx context.Context, after string, limit int) ([]store.Suppression, error) {
	if limit <= 0 || limit > store.MaxHistory {
		limit = store.MaxHistory
	}
	rows, err := db.pool.Query(ctx, `SELECT address, reason, detail, since, decoder, rule FROM suppressions
		WHERE address > $1 ORDER BY address LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: suppressions: %w", err)
	}
	var (
		list  []store.Suppression
		s     store.Suppression
		since int64
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Address, &s.Reason, &s.Detail, &since, &s.Decoder, &s.Rule}, func() error {
		s.Since = fromNanos(since)
		list = append(list, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: suppressions: %w", err)
	}
	return list, nil
}

// Messages lists recorded messages in id order, after id after, at most
// limit (at most store.MaxMessagesPage) of them.
func (db *DB) Messages(ctx context.Context, after uint64, limit int) ([]store.StoredMessage, error) {
	if limit <= 0 || limit > store.MaxMessagesPage {
		limit = store.MaxMessagesPage
	}
	list, err := readMessages(ctx, db.pool, after, limit, 0)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return list, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readMessages reads up to limit messages after id after, stopping once
// maxBytes (if positive) of stored bytes are read; at least one if any.
func readMessages(ctx context.Context, q querier, after uint64, limit, maxBytes int) ([]store.StoredMessage, error) {
	rows, err := q.Query(ctx, "SELECT id, received, head, raw, duplicates, last_duplicate FROM messages WHERE id > $1 ORDER BY id LIMIT $2", int64(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		list []store.StoredMessage
		size int
	)
	for rows.Next() {
		if maxBytes > 0 && len(list) > 0 && size >= maxBytes {
			break
		}
		var (
			id, received, lastDup int64
			dups                  int
			headv, raw            []byte
		)
		if err := rows.Scan(&id, &received, &headv, &raw, &dups, &lastDup); err != nil {
			return nil, err
		}
		size += len(headv) + len(raw)
		var h messageHead
		if err := json.Unmarshal(headv, &h); err != nil {
			return nil, fmt.Errorf("message %d: %w", id, err)
		}
		m := store.StoredMessage{ID: uint64(id), Received: fromNanos(received), EnvelopeFrom: h.EnvelopeFrom, EnvelopeTo: h.EnvelopeTo,
			RawPruned:  raw == nil, // NULL: the retention dropped it
			Duplicates: dups, LastDuplicate: timeOrZero(lastDup)}
		if raw != nil {
			if m.Raw, err = decompress(raw); err != nil {
				return nil, fmt.Errorf("message %d: %w", id, err)
			}
			m.Raw = append([]byte(nil), m.Raw...)
		}
		for _, o := range h.Observations {
			m.Observations = append(m.Observations, store.Observation(o))
		}
		list = append(list, m)
	}
	rows.Close()
	return list, rows.Err()
}
