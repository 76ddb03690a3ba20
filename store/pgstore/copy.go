package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// Dump calls fn with every item of the store, read in one snapshot.
func (db *DB) Dump(ctx context.Context, fn func(store.Item) error) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Messages in pages: each carries its raw bytes.
		after := uint64(0)
		for {
			page, err := readMessages(ctx, tx, after, 500, 32<<20)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			for i := range page {
				if err := fn(store.Item{Message: &page[i]}); err != nil {
					return err
				}
			}
			after = page[len(page)-1].ID
		}
		var (
			addr string
			blob []byte
		)
		rows, _ := tx.Query(ctx, "SELECT address, state FROM recipients ORDER BY address")
		_, err := pgx.ForEachRow(rows, []any{&addr, &blob}, func() error {
			r, err := decodeRecipient(blob)
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			return fn(store.Item{Recipient: &r})
		})
		if err != nil {
			return fmt.Errorf("recipients: %w", err)
		}
		var seq, at, msg int64
		rows, _ = tx.Query(ctx, "SELECT address, seq, time, message_id, obs FROM events ORDER BY address, seq")
		_, err = pgx.ForEachRow(rows, []any{&addr, &seq, &at, &msg, &blob}, func() error {
			var o observationRecord
			if err := json.Unmarshal(blob, &o); err != nil {
				return fmt.Errorf("event %d: %w", seq, err)
			}
			e := store.AddressedEvent{Address: addr, Event: store.Event{Seq: uint64(seq), Time: fromNanos(at), MessageID: uint64(msg), Observation: store.Observation(o)}}
			return fn(store.Item{Event: &e})
		})
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		var reason, detail, decoder, rule string
		rows, _ = tx.Query(ctx, "SELECT address, reason, detail, since, decoder, rule FROM suppressions ORDER BY address")
		_, err = pgx.ForEachRow(rows, []any{&addr, &reason, &detail, &at, &decoder, &rule}, func() error {
			return fn(store.Item{Suppression: &store.Suppression{Address: addr, Reason: reason, Detail: detail, Since: fromNanos(at),
				Decoder: decoder, Rule: rule}})
		})
		if err != nil {
			return fmt.Errorf("suppressions: %w", err)
		}
		var actor string
		rows, _ = tx.Query(ctx, "SELECT seq, time, address, actor, entry FROM audit ORDER BY seq")
		_, err = pgx.ForEachRow(rows, []any{&seq, &at, &addr, &actor, &blob}, func() error {
			e, err := decodeAudit(uint64(seq), at, addr, actor, blob)
			if err != nil {
				return err
			}
			return fn(store.Item{Audit: &e})
		})
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		var (
			gran, kind string
			period     int32
			a, b       string
			n          int64
		)
		rows, _ = tx.Query(ctx, `SELECT gran::text, period, kind::text, a, b, sum(n)::bigint FROM counters
			GROUP BY gran, period, kind, a, b ORDER BY gran, period, kind, a, b`)
		_, err = pgx.ForEachRow(rows, []any{&gran, &period, &kind, &a, &b, &n}, func() error {
			return fn(store.Item{Counter: &store.Counter{Hourly: gran == "h", Period: uint32(period), Kind: kind[0], A: a, B: b, N: n}})
		})
		if err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: dump: %w", err)
	}
	return nil
}

// Load writes items as they are, in one transaction, replacing what is
// under the same keys.
func (db *DB) Load(ctx context.Context, items []store.Item) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := takeWriters(ctx, tx); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, it := range items {
			switch {
			case it.Message != nil:
				m := it.Message
				h := messageHead{EnvelopeFrom: m.EnvelopeFrom, EnvelopeTo: m.EnvelopeTo, RawSize: len(m.Raw)}
				for _, o := range m.Observations {
					h.Observations = append(h.Observations, observationRecord(o))
				}
				head, err := json.Marshal(h)
				if err != nil {
					return err
				}
				b.Queue(`INSERT INTO messages (id, received, head, raw, raw_size, duplicates, last_duplicate) VALUES ($1, $2, $3, $4, $5, $6, $7)
					ON CONFLICT (id) DO UPDATE SET received = excluded.received, head = excluded.head, raw = excluded.raw,
						raw_size = excluded.raw_size, duplicates = excluded.duplicates, last_duplicate = excluded.last_duplicate`,
					int64(m.ID), nanos(m.Received), head, compressKept(m), int64(len(m.Raw)), m.Duplicates, nanosOrZero(m.LastDuplicate))
			case it.Recipient != nil:
				r := it.Recipient
				v, err := encodeRecipient(*r)
				if err != nil {
					return err
				}
				b.Queue(`INSERT INTO recipients (address, state, last_class, last_reason, last_status, last_bounce) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (address) DO UPDATE SET state = excluded.state, last_class = excluded.last_class,
						last_reason = excluded.last_reason, last_status = excluded.last_status, last_bounce = excluded.last_bounce`,
					r.Address, v, text(r.LastClass), text(r.LastReason), text(r.LastStatus), nanosOrZero(r.LastBounce))
			case it.Event != nil:
				e := it.Event
				v, err := json.Marshal(observationRecord(e.Observation))
				if err != nil {
					return err
				}
				class := e.Class
				if class == "" {
					class = store.ClassUnknown
				}
				b.Queue(`INSERT INTO events (seq, address, time, message_id, class, obs) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (seq) DO UPDATE SET address = excluded.address, time = excluded.time,
						message_id = excluded.message_id, class = excluded.class, obs = excluded.obs`,
					int64(e.Seq), e.Address, nanos(e.Time), int64(e.MessageID), text(class), v)
			case it.Suppression != nil:
				s := it.Suppression
				b.Queue(`INSERT INTO suppressions (address, reason, detail, since, decoder, rule) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, detail = excluded.detail, since = excluded.since,
						decoder = excluded.decoder, rule = excluded.rule`,
					s.Address, text(store.Clip(s.Reason, store.MaxReasonLen)), text(store.Clip(s.Detail, store.MaxDetailLen)), nanos(s.Since),
					text(store.Clip(s.Decoder, store.MaxReasonLen)), text(store.Clip(s.Rule, store.MaxReasonLen)))
			case it.Audit != nil:
				e := it.Audit
				v, err := encodeAudit(*e)
				if err != nil {
					return err
				}
				b.Queue(`INSERT INTO audit (seq, time, address, actor, entry) VALUES ($1, $2, $3, $4, $5)
					ON CONFLICT (seq) DO UPDATE SET time = excluded.time, address = excluded.address, actor = excluded.actor, entry = excluded.entry`,
					int64(e.Seq), nanos(e.Time), e.Address, text(e.Actor), v)
			case it.Counter != nil:
				c := it.Counter
				gran := "d"
				if c.Hourly {
					gran = "h"
				}
				b.Queue(`WITH d AS (DELETE FROM counters WHERE gran = $1::"char" AND period = $2 AND kind = $3::"char" AND a = $4 AND b = $5)
					INSERT INTO counters (gran, period, kind, a, b, n) VALUES ($1::"char", $2, $3::"char", $4, $5, $6)`,
					gran, int32(c.Period), string(rune(c.Kind)), text(c.A), text(c.B), c.N)
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("store: load: %w", err)
	}
	return nil
}

// FinishLoad counts the sizes from the data and moves the sequences past
// the loaded numbers.
func (db *DB) FinishLoad(ctx context.Context) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			SELECT setval('message_ids', m) FROM (SELECT max(id) AS m FROM messages) x
				WHERE m > (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM message_ids);
			SELECT setval('events_seq_seq', m) FROM (SELECT max(seq) AS m FROM events) x
				WHERE m > (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq_seq);
			UPDATE audit_head SET seq = greatest(seq, (SELECT coalesce(max(seq), 0) FROM audit));
			DELETE FROM sizes;
			INSERT INTO sizes (name, n)
				SELECT 'messages', count(*) FROM messages
				UNION ALL SELECT 'raw_bytes', coalesce(sum(raw_size), 0) FROM messages WHERE raw IS NOT NULL
				UNION ALL SELECT 'duplicates', coalesce(sum(duplicates), 0) FROM messages
				UNION ALL SELECT 'recipients', count(*) FROM recipients
				UNION ALL SELECT 'events', count(*) FROM events
				UNION ALL SELECT 'suppressed/' || reason, count(*) FROM suppressions GROUP BY reason`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish load: %w", err)
	}
	return nil
}

// compressKept is m's raw column: NULL when the retention pruned its raw
// bytes (store.StoredMessage.RawPruned).
func compressKept(m *store.StoredMessage) []byte {
	if m.RawPruned {
		return nil
	}
	return compress(m.Raw)
}
