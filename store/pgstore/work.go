package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// work is the state of the addresses one write transaction touches, read
// under their locks, changed in memory by the policy, and written back by
// flush in a few statements.
type work struct {
	db     *DB
	tx     pgx.Tx
	now    time.Time
	replay bool // a Rebuild: no audit entries, and the sizes are counted at the end

	addrs    map[string]*addrState
	todo     []string // of queueLoad
	events   []eventRow
	counters map[counterKey]int64
	sizes    map[string]int64
	audit    []store.AuditEntry
}

type addrState struct {
	rec      store.Recipient
	exists   bool // the recipients row exists
	dirty    bool
	supp     *store.Suppression // in force now
	hadSupp  bool               // a suppressions row exists
	suppGone bool               // the row must go (lifted, maybe suppressed again)
	suppNew  bool               // supp must be inserted
}

type eventRow struct {
	addr  string
	at    int64
	msgID uint64
	class string
	obs   []byte
}

type counterKey struct {
	gran   byte
	period int32
	kind   byte
	a, b   string
}

func (db *DB) newWork(tx pgx.Tx, replay bool) *work {
	return &work{db: db, tx: tx, now: db.now(), replay: replay, addrs: map[string]*addrState{},
		counters: map[counterKey]int64{}, sizes: map[string]int64{}}
}

// writersSQL, the first statement of every write transaction, takes the
// writers' lock shared (false while a Rebuild holds it) and has the
// server plan the transaction's statements for their arguments and the
// tables as they are now (SET LOCAL plan_cache_mode). A connection keeps
// its prepared statements, and after five runs the server may settle on a
// generic plan, made once with the table sizes of that moment: one made
// while recipients held a page of rows scanned the whole table for every
// group commit once it held thousands (measured: 1,811 sequential scans
// of recipients in one run of 21,000 messages, 7.8 ms each on average),
// until autovacuum's next ANALYZE, a minute or more away, replaced it.
// These statements are small and take their rows by key: planning them
// each time costs microseconds.
const writersSQL = "SELECT pg_try_advisory_xact_lock_shared($1, $2), set_config('plan_cache_mode', 'force_custom_plan', true)"

// recordWritersSQL is writersSQL for Record's group commits, which run
// many times a second: planning every statement was a tenth of the
// database's CPU there (perf). Its statements that read or change rows
// find them by key, in a handful of keys, so they run the generic plan a
// connection caches, always (plan_cache_mode), planned with sequential
// scans off (enable_seqscan), which makes it an index lookup whatever
// the table's size at the time; Record turns sequential scans back on
// before its inserts. No other path runs these statements with generic
// plans: the others go through takeWriters.
const recordWritersSQL = "SELECT pg_try_advisory_xact_lock_shared($1, $2), set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)"

// takeWriters fails with store.ErrRebuilding while a Rebuild runs on any
// instance; otherwise it holds off Rebuilds until tx ends. See writersSQL.
func takeWriters(ctx context.Context, tx pgx.Tx) error {
	var ok bool
	if err := tx.QueryRow(ctx, writersSQL, lockSpace, lockWriters).Scan(&ok, nil); err != nil {
		return err
	}
	if !ok {
		return store.ErrRebuilding
	}
	return nil
}

// load locks the addresses not yet in w and reads their state.
func (w *work) load(ctx context.Context, addrs []string) error {
	b := &pgx.Batch{}
	if !w.queueLoad(b, addrs) {
		return nil
	}
	br := w.tx.SendBatch(ctx, b)
	if err := w.readLoad(br); err != nil {
		br.Close()
		return err
	}
	return br.Close()
}

// queueLoad queues the statements that lock the addresses not yet in w
// and read their state, and reports whether there were any. The locks are
// taken in the order of their keys, as every writer takes them, so two
// transactions never wait on each other in a circle.
func (w *work) queueLoad(b *pgx.Batch, addrs []string) bool {
	w.todo = w.todo[:0]
	for _, a := range addrs {
		if _, ok := w.addrs[a]; !ok {
			w.addrs[a] = &addrState{rec: store.Recipient{Address: a, Counts: map[string]int{}}}
			w.todo = append(w.todo, a)
		}
	}
	if len(w.todo) == 0 {
		return false
	}
	slices.Sort(w.todo)
	lock := `SELECT count(pg_advisory_xact_lock($1, k)) FROM (SELECT DISTINCT hashtext(a) AS k FROM unnest($2::text[]) a ORDER BY 1) l`
	if w.replay {
		// A Rebuild holds every writer off: no address needs a lock.
		lock = `SELECT $1::int + cardinality($2::text[])`
	}
	b.Queue(lock, lockAddrSpace, w.todo)
	b.Queue(`SELECT address, state FROM recipients WHERE address = ANY($1)`, w.todo)
	b.Queue(`SELECT address, reason, detail, since, decoder, rule FROM suppressions WHERE address = ANY($1)`, w.todo)
	return true
}

// readLoad reads the results of queueLoad's statements.
func (w *work) readLoad(br pgx.BatchResults) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("address locks: %w", err)
	}
	rows, _ := br.Query()
	var (
		addr  string
		state []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&addr, &state}, func() error {
		r, err := decodeRecipient(state)
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
		if r.Counts == nil {
			r.Counts = map[string]int{}
		}
		st := w.addrs[addr]
		st.rec, st.exists = r, true
		return nil
	})
	if err != nil {
		return fmt.Errorf("recipients: %w", err)
	}
	rows, _ = br.Query()
	var (
		reason, detail, decoder, rule string
		since                         int64
	)
	_, err = pgx.ForEachRow(rows, []any{&addr, &reason, &detail, &since, &decoder, &rule}, func() error {
		st := w.addrs[addr]
		st.supp = &store.Suppression{Address: addr, Reason: reason, Detail: detail, Since: fromNanos(since), Decoder: decoder, Rule: rule}
		st.hadSupp = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("suppressions: %w", err)
	}
	return nil
}

// appendEvent adds o to addr's history.
func (w *work) appendEvent(addr string, at time.Time, msgID uint64, o store.Observation) error {
	v, err := json.Marshal(observationRecord(o))
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	w.events = append(w.events, eventRow{addr: addr, at: nanos(at), msgID: msgID, class: text(cmp.Or(o.Class, store.ClassUnknown)), obs: v})
	if !w.replay {
		w.sizes["events"]++
	}
	w.addrs[addr].dirty = true
	return nil
}

// suppress puts s in force unless its address is suppressed already, and
// reports whether it did.
func (w *work) suppress(s store.Suppression) bool {
	st := w.addrs[s.Address]
	st.dirty = true // a suppressed address has a record
	if st.supp != nil {
		return false
	}
	st.supp, st.suppNew = &s, true
	if !w.replay {
		w.sizes["suppressed/"+s.Reason]++
	}
	return true
}

// unsuppress lifts addr's suppression, if any, and returns it.
func (w *work) unsuppress(addr string) *store.Suppression {
	st := w.addrs[addr]
	old := st.supp
	if old == nil {
		return nil
	}
	if st.suppNew {
		st.suppNew = false // added in this transaction: never written
	} else {
		st.suppGone = true
	}
	st.supp = nil
	if !w.replay {
		w.sizes["suppressed/"+old.Reason]--
	}
	return old
}

// observe records one observation of addr (loaded) in message msgID,
// applying the policy, and reports whether it suppressed the address.
func (w *work) observe(msgID uint64, at time.Time, addr string, o store.Observation) (bool, error) {
	if err := w.appendEvent(addr, at, msgID, o); err != nil {
		return false, err
	}
	w.count(at, addr, o)
	st := w.addrs[addr]
	s := w.db.policy.Observe(&st.rec, o, at)
	if s == nil || !w.suppress(*s) {
		return false, nil
	}
	if !w.replay {
		w.audit = append(w.audit, store.AuditEntry{Address: addr, Action: store.AuditSuppress, Actor: store.ActorPolicy,
			After: s, MessageID: msgID, Verdict: &o})
	}
	return true, nil
}

// applySuppress records the admin event ev and suppresses s.Address with
// s unless it is suppressed already; it reports whether it did.
func (w *work) applySuppress(s store.Suppression, ev store.Observation) (bool, error) {
	if err := w.appendEvent(s.Address, s.Since, 0, ev); err != nil {
		return false, err
	}
	return w.suppress(s), nil
}

// applyLift records the admin event ev, lifts addr's suppression and
// forgets what the policy counted up to at.
func (w *work) applyLift(addr string, at time.Time, ev store.Observation) (*store.Suppression, error) {
	lifted := w.unsuppress(addr)
	w.addrs[addr].rec.ResetPolicy(at)
	return lifted, w.appendEvent(addr, at, 0, ev)
}

// Counters, as the bbolt engine keeps them: per UTC day for ever, per
// hour for keepHours.
const keepHours = 48

func dayOf(t time.Time) int32  { return int32(max(t.Unix(), 0) / 86400) }
func hourOf(t time.Time) int32 { return int32(max(t.Unix(), 0) / 3600) }

func (w *work) count(at time.Time, addr string, o store.Observation) {
	class := text(cmp.Or(o.Class, store.ClassUnknown))
	reason, domain := text(o.Reason), store.Domain(addr)
	add := func(gran byte, period int32) {
		w.counters[counterKey{gran, period, 'c', class, ""}]++
		w.counters[counterKey{gran, period, 'r', class, reason}]++
		w.counters[counterKey{gran, period, 'm', domain, class}]++
	}
	add('d', dayOf(at))
	if h := hourOf(at); h+keepHours > hourOf(w.now) {
		add('h', h)
	}
}

// flush writes what w changed, and appends its audit entries last.
func (w *work) flush(ctx context.Context) error {
	b := &pgx.Batch{}
	w.queueLifts(b)
	if err := w.queueFlush(b); err != nil {
		return err
	}
	if b.Len() == 0 {
		return nil
	}
	if err := w.tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	w.flushed()
	return nil
}

// queueLifts queues the deletion of the suppressions w lifted: the one
// statement of a flush that finds rows by key (see writersSQL), to queue
// before queueFlush's.
func (w *work) queueLifts(b *pgx.Batch) {
	var gone []string
	for a, st := range w.addrs {
		if st.suppGone {
			gone = append(gone, a)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		b.Queue(`DELETE FROM suppressions WHERE address = ANY($1)`, gone)
	}
}

// queueFlush queues the statements that write what w changed but for
// queueLifts', the audit entries last.
func (w *work) queueFlush(b *pgx.Batch) error {
	var (
		raddrs, rclass, rreason, rstatus []string
		rstate                           [][]byte
		rlast                            []int64
		saddrs, sreason, sdetail         []string
		sdecoder, srule                  []string
		ssince                           []int64
	)
	addrs := make([]string, 0, len(w.addrs))
	for a := range w.addrs {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		st := w.addrs[a]
		if st.dirty {
			v, err := encodeRecipient(st.rec)
			if err != nil {
				return fmt.Errorf("recipient %s: %w", a, err)
			}
			raddrs, rstate = append(raddrs, a), append(rstate, v)
			rclass, rreason, rstatus = append(rclass, text(st.rec.LastClass)), append(rreason, text(st.rec.LastReason)), append(rstatus, text(st.rec.LastStatus))
			rlast = append(rlast, nanosOrZero(st.rec.LastBounce))
			if !st.exists && !w.replay {
				w.sizes["recipients"]++
			}
			st.exists = true
		}
		if st.suppNew {
			s := st.supp
			saddrs, sreason, sdetail = append(saddrs, a), append(sreason, text(store.Clip(s.Reason, store.MaxReasonLen))), append(sdetail, text(store.Clip(s.Detail, store.MaxDetailLen)))
			ssince = append(ssince, nanos(s.Since))
			sdecoder, srule = append(sdecoder, text(store.Clip(s.Decoder, store.MaxReasonLen))), append(srule, text(store.Clip(s.Rule, store.MaxReasonLen)))
		}
	}
	if len(raddrs) > 0 {
		b.Queue(`INSERT INTO recipients (address, state, last_class, last_reason, last_status, last_bounce)
			SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::bigint[])
			ON CONFLICT (address) DO UPDATE SET state = excluded.state, last_class = excluded.last_class,
				last_reason = excluded.last_reason, last_status = excluded.last_status, last_bounce = excluded.last_bounce`,
			raddrs, rstate, rclass, rreason, rstatus, rlast)
	}
	if len(saddrs) > 0 {
		b.Queue(`INSERT INTO suppressions (address, reason, detail, since, decoder, rule)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])`,
			saddrs, sreason, sdetail, ssince, sdecoder, srule)
	}
	if len(w.events) > 0 {
		n := len(w.events)
		ea, ec := make([]string, n), make([]string, n)
		et, em := make([]int64, n), make([]int64, n)
		eo := make([][]byte, n)
		for i, e := range w.events {
			ea[i], et[i], em[i], ec[i], eo[i] = e.addr, e.at, int64(e.msgID), e.class, e.obs
		}
		b.Queue(`INSERT INTO events (address, time, message_id, class, obs)
			SELECT a, t, m, c, o FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bytea[])
				WITH ORDINALITY AS e(a, t, m, c, o, i) ORDER BY i`, ea, et, em, ec, eo)
	}
	if len(w.counters) > 0 {
		var (
			gran, kind []string
			period     []int32
			ca, cb     []string
			cn         []int64
		)
		for k, n := range w.counters {
			gran, kind = append(gran, string(rune(k.gran))), append(kind, string(rune(k.kind)))
			period, ca, cb, cn = append(period, k.period), append(ca, k.a), append(cb, k.b), append(cn, n)
		}
		b.Queue(`INSERT INTO counters (gran, period, kind, a, b, n)
			SELECT g::"char", p, k::"char", a, b, n FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS c(g, p, k, a, b, n)`,
			gran, period, kind, ca, cb, cn)
	}
	if len(w.sizes) > 0 {
		var names []string
		var ns []int64
		for k, n := range w.sizes {
			if n != 0 {
				names, ns = append(names, text(k)), append(ns, n)
			}
		}
		if len(names) > 0 {
			b.Queue(`INSERT INTO sizes (name, n) SELECT * FROM unnest($1::text[], $2::bigint[])`, names, ns)
		}
	}
	if len(w.audit) > 0 {
		if err := w.queueAudit(b, w.audit); err != nil {
			return err
		}
	}
	return nil
}

// flushed forgets what was written.
func (w *work) flushed() {
	w.events, w.audit = w.events[:0], w.audit[:0]
	clear(w.counters)
	clear(w.sizes)
	for _, st := range w.addrs {
		st.dirty, st.suppNew, st.suppGone = false, false, false
		st.hadSupp = st.supp != nil
	}
}

// queueAudit appends entries to the trail, numbered from audit_head. It
// is queued last: the head's row lock, which orders the appenders'
// commits, is then held for as short a time as possible.
func (w *work) queueAudit(b *pgx.Batch, entries []store.AuditEntry) error {
	n := len(entries)
	at, addr, actor := make([]int64, n), make([]string, n), make([]string, n)
	body := make([][]byte, n)
	now := nanos(w.now.UTC().Round(0))
	for i, e := range entries {
		v, err := encodeAudit(e)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		at[i], addr[i], actor[i], body[i] = now, e.Address, text(e.Actor), v
	}
	b.Queue(`WITH h AS (UPDATE audit_head SET seq = seq + $1 RETURNING seq - $1 AS base)
		INSERT INTO audit (seq, time, address, actor, entry)
		SELECT h.base + e.i, e.t, e.a, e.c, e.b FROM h,
			unnest($2::bigint[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS e(t, a, c, b, i)`,
		n, at, addr, actor, body)
	b.Queue("NOTIFY " + w.db.channel)
	return nil
}

// domainOf is store.Domain for a possibly odd string.
var _ = strings.Cut
