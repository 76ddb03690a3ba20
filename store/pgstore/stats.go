package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// Stats returns the sizes of the store: a sum over the few rows of the
// sizes table, whatever the size of the store.
func (db *DB) Stats(ctx context.Context) (store.Stats, error) {
	rows, err := db.pool.Query(ctx, "SELECT name, sum(n)::bigint FROM sizes GROUP BY name")
	if err != nil {
		return store.Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	st := store.Stats{SuppressedByReason: map[string]int{}}
	var (
		name string
		n    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		switch {
		case name == "messages":
			st.Messages = int(n)
		case name == "recipients":
			st.Recipients = int(n)
		case name == "events":
			st.Events = int(n)
		case name == "raw_bytes":
			st.RawBytes = n
		case name == "duplicates":
			st.Duplicates = int(n)
		case strings.HasPrefix(name, "suppressed/") && n != 0:
			st.SuppressedByReason[strings.TrimPrefix(name, "suppressed/")] = int(n)
			st.Suppressed += int(n)
		}
		return nil
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	return st, nil
}

// compactEvery is how often an instance merges the rows of the counters.
const compactEvery = time.Minute

func (db *DB) compactLoop(ctx context.Context) {
	t := time.NewTicker(compactEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			db.compact(ctx)
		}
	}
}

// compact merges the rows that writers added to sizes and counters into
// one per key, and drops the hour counters older than keepHours. One
// instance at a time does it; the others skip their turn.
func (db *DB) compact(ctx context.Context) error {
	cutoff := hourOf(db.now()) - keepHours
	return db.inTx(ctx, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1, $2)", lockSpace, lockCompact).Scan(&ok); err != nil || !ok {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`WITH d AS (DELETE FROM sizes RETURNING name, n)
			INSERT INTO sizes SELECT name, sum(n) FROM d GROUP BY name`)
		b.Queue(`DELETE FROM counters WHERE gran = 'h' AND period < $1`, cutoff)
		if window := db.policy.DuplicateWindow; window > 0 {
			// Digests older than the window match nothing any more.
			b.Queue(`DELETE FROM digests WHERE received < $1`, nanos(db.now().Add(-window)))
		}
		b.Queue(`WITH d AS (DELETE FROM counters RETURNING gran, period, kind, a, b, n)
			INSERT INTO counters SELECT gran, period, kind, a, b, sum(n) FROM d GROUP BY gran, period, kind, a, b`)
		return tx.SendBatch(ctx, b).Close()
	})
}

// Activity counts the observations recorded recently, from the counters
// (see the bbolt engine's, whose figures these are).
func (db *DB) Activity(ctx context.Context, opts store.ActivityOptions) (store.Activity, error) {
	if opts.Days <= 0 {
		opts.Days = 30
	}
	opts.Days = min(opts.Days, 400)
	if opts.Top <= 0 {
		opts.Top = 10
	}
	opts.Top = min(opts.Top, 1000)
	now := db.now().UTC()
	act := store.Activity{Now: now}
	hour, today := hourOf(now), dayOf(now)
	windows := []struct {
		name     string
		gran     string
		from, to int32
		start    time.Time
	}{
		{"24h", "h", hour - 23, hour, time.Unix(int64(hour-23)*3600, 0)},
		{"7d", "d", today - 6, today, time.Unix(int64(today-6)*86400, 0)},
		{"30d", "d", today - 29, today, time.Unix(int64(today-29)*86400, 0)},
	}
	first := today - int32(opts.Days-1)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for i, w := range windows {
			rows, err := tx.Query(ctx, `SELECT kind::text, a, b, sum(n)::bigint FROM counters
				WHERE gran = $1::"char" AND period BETWEEN $2 AND $3 GROUP BY kind, a, b`, w.gran, w.from, w.to)
			if err != nil {
				return err
			}
			wa := store.WindowActivity{Window: w.name, Start: w.start.UTC(), ByClass: map[string]int{}, ByReason: map[string]map[string]int{}}
			domains := map[string]*store.DomainCount{}
			var (
				kind, a, b string
				n          int64
			)
			_, err = pgx.ForEachRow(rows, []any{&kind, &a, &b, &n}, func() error {
				switch kind {
				case "c":
					wa.ByClass[a] += int(n)
					wa.Total += int(n)
				case "r":
					if wa.ByReason[a] == nil {
						wa.ByReason[a] = map[string]int{}
					}
					wa.ByReason[a][b] += int(n)
				case "m":
					d := domains[a]
					if d == nil {
						d = &store.DomainCount{Domain: a, ByClass: map[string]int{}}
						domains[a] = d
					}
					d.Total += int(n)
					d.ByClass[b] += int(n)
				}
				return nil
			})
			if err != nil {
				return err
			}
			wa.Domains = len(domains)
			wa.TopDomains = top(domains, opts.Top, func(d store.DomainCount) int { return d.Total })
			act.Windows = append(act.Windows, wa)
			if i == 0 {
				act.TopBlockDomains = top(domains, opts.Top, func(d store.DomainCount) int { return d.ByClass["block"] })
			}
		}
		rows, err := tx.Query(ctx, `SELECT period, a, sum(n)::bigint FROM counters
			WHERE gran = 'd' AND kind = 'c' AND period BETWEEN $1 AND $2 GROUP BY period, a`, first, today)
		if err != nil {
			return err
		}
		byDay := map[int32]map[string]int{}
		var (
			period int32
			class  string
			n      int64
		)
		_, err = pgx.ForEachRow(rows, []any{&period, &class, &n}, func() error {
			if byDay[period] == nil {
				byDay[period] = map[string]int{}
			}
			byDay[period][class] += int(n)
			return nil
		})
		if err != nil {
			return err
		}
		for d := first; d <= today; d++ {
			day := store.DayActivity{Day: time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly), ByClass: map[string]int{}}
			for c, n := range byDay[d] {
				day.ByClass[c] = n
				day.Total += n
			}
			act.Daily = append(act.Daily, day)
		}
		return nil
	})
	if err != nil {
		return store.Activity{}, fmt.Errorf("store: activity: %w", err)
	}
	return act, nil
}

// top returns the n domains with the highest positive by, highest first,
// ties in domain order.
func top(domains map[string]*store.DomainCount, n int, by func(store.DomainCount) int) []store.DomainCount {
	list := []store.DomainCount{}
	for _, d := range domains {
		if by(*d) > 0 {
			list = append(list, *d)
		}
	}
	slices.SortFunc(list, func(a, b store.DomainCount) int {
		return cmp.Or(cmp.Compare(by(b), by(a)), strings.Compare(a.Domain, b.Domain))
	})
	return list[:min(n, len(list))]
}
