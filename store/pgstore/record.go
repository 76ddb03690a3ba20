package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// pending is one Record waiting for its group's commit.
type pending struct {
	at      time.Time
	head    []byte
	raw     []byte
	rawSize int64
	digest  []byte
	quota   int64
	targets []target

	// The outcome.
	id        uint64
	changed   bool  // the policy suppressed an address
	duplicate bool  // of message id, received before
	overQuota bool  // refused: nothing stored
	rawBytes  int64 // kept, when over quota
	done      chan error
}

// maxDigestLen bounds Message.Digest, as the bbolt engine does.
const maxDigestLen = 64

type target struct {
	addr string
	obs  store.Observation
}

// Record commits the message and all its observations in one
// transaction, applying the policy at m.Received, and returns the message
// id. Concurrent calls share transactions (see groupCommit).
func (db *DB) Record(ctx context.Context, m store.Message) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: record: %w", err)
	}
	if m.Received.IsZero() {
		return 0, errors.New("store: record: message has no received time")
	}
	if len(m.Digest) > maxDigestLen {
		return 0, fmt.Errorf("store: record: digest of %d bytes, want at most %d", len(m.Digest), maxDigestLen)
	}
	p := &pending{at: m.Received.UTC().Round(0), raw: compress(m.Raw), rawSize: int64(len(m.Raw)),
		digest: m.Digest, quota: m.RawQuota, done: make(chan error, 1)}
	head := messageHead{EnvelopeFrom: m.EnvelopeFrom, EnvelopeTo: m.EnvelopeTo, RawSize: len(m.Raw)}
	for _, o := range m.Observations {
		head.Observations = append(head.Observations, observationRecord(o))
		if addr, err := store.Normalize(o.Recipient); err == nil {
			p.targets = append(p.targets, target{addr, o})
		}
	}
	var err error
	if p.head, err = json.Marshal(head); err != nil {
		return 0, fmt.Errorf("store: record: %w", err)
	}
	if err := db.commits.do(ctx, p); err != nil {
		return 0, fmt.Errorf("store: record: %w", err)
	}
	switch {
	case p.duplicate:
		return p.id, fmt.Errorf("store: record: %w (message %d)", store.ErrDuplicate, p.id)
	case p.overQuota:
		return 0, fmt.Errorf("store: record: %w (%d bytes kept, quota %d)", store.ErrQuota, p.rawBytes, p.quota)
	}
	if p.changed {
		db.notifyAudit()
	}
	return p.id, nil
}

// maxGroup bounds how many messages one transaction commits.
const maxGroup = 500

// committers is how many group transactions of one process may be in
// flight at once. Two, one read and written while the other waited for
// its commit, were tried: nearly every group appends to the audit trail,
// whose counter orders the commits (see queueAudit), so the second waited
// for the first's commit anyway, and the groups were half as large:
// 9 messages each against 17.5 with one, and 236-256 µs of the
// database's CPU per message against 144-170 (bouncebench smtp, 20,000
// messages, load 1.5-2.4, alternated runs).
const committers = 1

// groupCommit lets concurrent Records share a transaction and its commit,
// as the bbolt engine's does: the first to arrive commits at once, and
// those that arrive meanwhile go together into the next transaction.
type groupCommit struct {
	db      *DB
	mu      sync.Mutex
	pending []*pending
	active  int // committing goroutines
}

func (g *groupCommit) do(ctx context.Context, p *pending) error {
	g.mu.Lock()
	g.pending = append(g.pending, p)
	lead := g.active < committers
	if lead {
		g.active++
	}
	g.mu.Unlock()
	if lead {
		g.commitNext()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The group may still commit the message: the caller says it
		// failed, and its sender will send it again. Not acknowledging
		// what was stored is safe; the reverse would not be.
		return ctx.Err()
	}
}

// commitNext commits groups until none is pending, handing each next one
// to a new goroutine so that the writer that led is answered as soon as
// its own group is durable.
func (g *groupCommit) commitNext() {
	g.mu.Lock()
	n := min(len(g.pending), maxGroup)
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	if len(group) > 0 {
		g.commit(group)
	}

	g.mu.Lock()
	if len(g.pending) == 0 {
		g.active--
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go g.commitNext()
}

// commit commits the group in one transaction. When that fails for
// another reason than the database being unreachable, each message is
// tried alone, so that one bad message fails alone.
func (g *groupCommit) commit(group []*pending) {
	// Commits are not cancelled by a caller leaving: a half-known
	// outcome helps nobody.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := g.db.recordGroup(ctx, group)
	if err != nil && len(group) > 1 && !errors.Is(err, store.ErrRebuilding) && g.db.pool.Ping(ctx) == nil {
		for _, p := range group {
			p.done <- g.db.recordGroup(ctx, []*pending{p})
		}
		return
	}
	for _, p := range group {
		p.done <- err
	}
}

// recordGroup stores the messages in one transaction, retried when the
// database asks to.
func (db *DB) recordGroup(ctx context.Context, group []*pending) error {
	start := time.Now()
	defer func() { db.metrics.observeCommit(time.Since(start), len(group)) }()
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			db.metrics.retries.Add(1)
			time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
		}
		if err = db.recordOnce(ctx, group); !retryable(err) {
			return err
		}
	}
	return err
}

// recordOnce runs the transaction in two round trips to the server: one
// that begins it, takes the locks and reads the addresses' state and the
// message ids, and one that writes and commits. Under load each round
// trip waits for the database's processes to be scheduled, so fewer of
// them is what keeps up the rate.
func (db *DB) recordOnce(ctx context.Context, group []*pending) (err error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	conn := c.Conn()
	open := false
	defer func() {
		if err != nil && open {
			if _, rerr := conn.Exec(context.Background(), "ROLLBACK"); rerr != nil {
				conn.Close(context.Background()) // the pool drops it: its state is unknown
			}
		}
	}()
	w := db.newWork(nil, false)
	var (
		addrs   []string
		digests [][]byte
		quota   bool
	)
	window := db.policy.DuplicateWindow
	for _, p := range group {
		for _, t := range p.targets {
			addrs = append(addrs, t.addr)
		}
		if window > 0 && len(p.digest) > 0 {
			digests = append(digests, p.digest)
		}
		quota = quota || p.quota > 0
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(recordWritersSQL, lockSpace, lockWriters)
	b.Queue("SELECT nextval('message_ids') FROM generate_series(1, $1)", len(group))
	if len(digests) > 0 {
		// The digests' locks come before the addresses', in every writer,
		// so that two hosts receiving one message record it once.
		b.Queue(`SELECT count(pg_advisory_xact_lock($1, k)) FROM (SELECT DISTINCT k FROM unnest($2::int[]) k ORDER BY 1) l`,
			lockDigestSpace, digestKeys(digests))
		b.Queue(`SELECT digest, received, message_id FROM digests WHERE digest = ANY($1)`, digests)
	}
	if quota {
		b.Queue(`SELECT coalesce(sum(n), 0)::bigint FROM sizes WHERE name = 'raw_bytes'`)
	}
	loading := w.queueLoad(b, addrs)
	br := conn.SendBatch(ctx, b)
	open = true
	type seen struct{ received, id int64 }
	known := map[string]seen{}
	var rawBytes int64
	ids, err := func() ([]int64, error) {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		var writers bool
		if err := br.QueryRow().Scan(&writers, nil, nil); err != nil {
			return nil, err
		}
		if !writers {
			return nil, store.ErrRebuilding
		}
		rows, _ := br.Query()
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("message ids: %w", err)
		}
		if len(digests) > 0 {
			if _, err := br.Exec(); err != nil {
				return nil, fmt.Errorf("digest locks: %w", err)
			}
			rows, _ := br.Query()
			var (
				d            []byte
				received, id int64
			)
			_, err := pgx.ForEachRow(rows, []any{&d, &received, &id}, func() error {
				known[string(d)] = seen{received, id}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("digests: %w", err)
			}
		}
		if quota {
			if err := br.QueryRow().Scan(&rawBytes); err != nil {
				return nil, fmt.Errorf("raw bytes: %w", err)
			}
		}
		if loading {
			if err := w.readLoad(br); err != nil {
				return nil, err
			}
		}
		return ids, nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	var (
		kept, received, sizes      []int64
		heads, raws                [][]byte
		digestNew                  [][]byte
		digestAt, digestID         []int64
		rawAdded, duplicates       int64
		dupIDs, dupCounts, dupLast []int64 // per first message, in the order met
		dupAt                      = map[int64]int{}
	)
	for i, p := range group {
		p.changed, p.duplicate, p.overQuota = false, false, false
		if window > 0 && len(p.digest) > 0 {
			if s, ok := known[string(p.digest)]; ok && s.received >= nanos(p.at.Add(-window)) {
				// Received before within the window: stored nothing more,
				// noted on the first.
				p.id, p.duplicate = uint64(s.id), true
				j, ok := dupAt[s.id]
				if !ok {
					j = len(dupIDs)
					dupAt[s.id] = j
					dupIDs, dupCounts, dupLast = append(dupIDs, s.id), append(dupCounts, 0), append(dupLast, 0)
				}
				dupCounts[j]++
				dupLast[j] = max(dupLast[j], nanos(p.at))
				duplicates++
				continue
			}
		}
		if p.quota > 0 && rawBytes+p.rawSize > p.quota {
			p.overQuota, p.rawBytes = true, rawBytes
			continue
		}
		p.id = uint64(ids[i])
		rawBytes += p.rawSize
		rawAdded += p.rawSize
		kept, received, sizes = append(kept, ids[i]), append(received, nanos(p.at)), append(sizes, p.rawSize)
		heads, raws = append(heads, p.head), append(raws, p.raw)
		if window > 0 && len(p.digest) > 0 {
			known[string(p.digest)] = seen{nanos(p.at), ids[i]}
			digestNew, digestAt, digestID = append(digestNew, p.digest), append(digestAt, nanos(p.at)), append(digestID, ids[i])
		}
		for _, t := range p.targets {
			added, err := w.observe(p.id, p.at, t.addr, t.obs)
			if err != nil {
				return fmt.Errorf("message %d: %s: %w", p.id, t.addr, err)
			}
			p.changed = p.changed || added
		}
	}
	w.sizes["messages"] += int64(len(kept))
	w.sizes["raw_bytes"] += rawAdded
	w.sizes["duplicates"] += duplicates
	b = &pgx.Batch{}
	if len(kept) > 0 {
		b.Queue(`INSERT INTO messages (id, received, head, raw, raw_size)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bigint[])`, kept, received, heads, raws, sizes)
	}
	if len(digestNew) > 0 {
		b.Queue(`INSERT INTO digests (digest, received, message_id)
			SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[])
			ON CONFLICT (digest) DO UPDATE SET received = excluded.received, message_id = excluded.message_id`,
			digestNew, digestAt, digestID)
	}
	if len(dupIDs) > 0 {
		// After the messages' insert: a duplicate may be of a message of
		// this very group.
		b.Queue(`UPDATE messages m SET duplicates = m.duplicates + d.n, last_duplicate = greatest(m.last_duplicate, d.t)
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(id, n, t) WHERE m.id = d.id`, dupIDs, dupCounts, dupLast)
	}
	w.queueLifts(b)
	// What follows inserts rows, with plans that take no table's size
	// into account (see recordWritersSQL).
	b.Queue("SET LOCAL enable_seqscan TO DEFAULT")
	if err := w.queueFlush(b); err != nil {
		return err
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	open = false
	return nil
}

// digestKeys returns the advisory lock keys of the digests (FNV-1a, 32
// bits: a collision only makes two messages wait for each other).
func digestKeys(digests [][]byte) []int32 {
	keys := make([]int32, len(digests))
	for i, d := range digests {
		h := fnv.New32a()
		h.Write(d)
		keys[i] = int32(h.Sum32())
	}
	return keys
}
