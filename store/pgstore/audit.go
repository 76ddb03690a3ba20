package pgstore

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

func scanAudit(rows pgx.Rows) ([]store.AuditEntry, error) {
	var (
		list        []store.AuditEntry
		seq, at     int64
		addr, actor string
		body        []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&seq, &at, &addr, &actor, &body}, func() error {
		e, err := decodeAudit(uint64(seq), at, addr, actor, body)
		list = append(list, e)
		return err
	})
	return list, err
}

// AuditAfter returns the audit entries numbered above after, oldest
// first, at most limit (at most store.MaxAuditPage) of them. Entries
// commit in the order of their numbers, so a reader that keeps the last
// number it saw misses none.
func (db *DB) AuditAfter(ctx context.Context, after uint64, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 || limit > store.MaxAuditPage {
		limit = store.MaxAuditPage
	}
	rows, err := db.pool.Query(ctx, "SELECT seq, time, address, actor, entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit after %d: %w", after, err)
	}
	list, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("store: audit after %d: %w", after, err)
	}
	return list, nil
}

// Audit lists the entries f selects, newest first, numbered below before
// (0 for the newest), at most limit of them; next is the before of the
// following page, 0 after the last.
func (db *DB) Audit(ctx context.Context, f store.AuditFilter, before uint64, limit int) ([]store.AuditEntry, uint64, error) {
	if limit <= 0 || limit > store.MaxAuditPage {
		limit = store.MaxAuditPage
	}
	if f.Address != "" {
		var err error
		if f.Address, err = store.Normalize(f.Address); err != nil {
			return nil, 0, err
		}
	}
	upper := int64(before)
	if before == 0 {
		upper = 1<<63 - 1
	}
	var since int64
	if !f.Since.IsZero() {
		since = nanos(f.Since)
	}
	q := "SELECT seq, time, address, actor, entry FROM audit WHERE seq < $1 AND time >= $2"
	args := []any{upper, since}
	if f.Address != "" {
		args = append(args, f.Address)
		q += fmt.Sprintf(" AND address = $%d", len(args))
	}
	if f.Actor != "" {
		args = append(args, f.Actor)
		q += fmt.Sprintf(" AND actor = $%d", len(args))
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(" ORDER BY seq DESC LIMIT $%d", len(args))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit: %w", err)
	}
	list, err := scanAudit(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit: %w", err)
	}
	var next uint64
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].Seq
	}
	return list, next, nil
}

// ListSuppressions lists the suppressions f selects, newest first (by
// Since, then address in reverse order), at most limit of them. The
// cursor is a position in that order, as the bbolt engine's is: since
// (8 bytes big-endian) and address, in URL-safe base64.
func (db *DB) ListSuppressions(ctx context.Context, f store.SuppressionFilter, cursor string, limit int) ([]store.ListedSuppression, string, error) {
	if limit <= 0 || limit > store.MaxListPage {
		limit = store.MaxListPage
	}
	q := listedSelect + " FROM suppressions s LEFT JOIN recipients r USING (address) WHERE true"
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if cursor != "" {
		k, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(k) < 8 {
			return nil, "", fmt.Errorf("store: list suppressions: %w %q", store.ErrBadCursor, cursor)
		}
		q += fmt.Sprintf(" AND (s.since, s.address) < (%s, %s)", arg(int64(binary.BigEndian.Uint64(k))), arg(string(k[8:])))
	}
	q += filterWhere(f, arg)
	q += " ORDER BY s.since DESC, s.address DESC LIMIT " + arg(limit+1)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list suppressions: %w", err)
	}
	page, err := appendListed(nil, rows)
	if err != nil {
		return nil, "", fmt.Errorf("store: list suppressions: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		k := binary.BigEndian.AppendUint64(nil, uint64(nanos(last.Since)))
		next = base64.RawURLEncoding.EncodeToString(append(k, last.Address...))
	}
	return page, next, nil
}

// filterWhere is the SQL conditions of f over suppressions s LEFT JOIN
// recipients r, each starting with AND; arg adds an argument and returns
// its placeholder.
func filterWhere(f store.SuppressionFilter, arg func(any) string) string {
	q := ""
	if !f.Until.IsZero() {
		q += " AND s.since <= " + arg(nanos(f.Until))
	}
	if !f.Since.IsZero() {
		q += " AND s.since >= " + arg(nanos(f.Since))
	}
	if f.Reason != "" {
		q += " AND s.reason = " + arg(f.Reason)
	}
	if f.Class != "" {
		q += " AND r.last_class = " + arg(f.Class)
	}
	if f.Domain != "" {
		suffix := "@" + strings.ToLower(strings.TrimSuffix(f.Domain, "."))
		q += " AND right(s.address, " + arg(utf8.RuneCountInString(suffix)) + ") = " + arg(suffix)
	}
	if f.Search != "" {
		q += " AND strpos(s.address, " + arg(strings.ToLower(f.Search)) + ") > 0"
	}
	return q
}

// nanosOrZero and timeOrZero keep the zero time as 0.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func timeOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}
