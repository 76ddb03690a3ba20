package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	targets []target
	id      uint64
	changed bool
	done    chan error
}

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
	p := &pending{at: m.Received.UTC().Round(0), raw: compress(m.Raw), done: make(chan error, 1)}
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
	if p.changed {
		db.notifyAudit()
	}
	return p.id, nil
}

// maxGroup bounds how many messages one transaction commits.
const maxGroup = 500

// committers is how many group transactions of one process may be in
// flight at once: while one waits for its commit to be durable, the next
// one is read and written, as bbolt cannot but a database server can.
const committers = 2

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
	var addrs []string
	for _, p := range group {
		for _, t := range p.targets {
			addrs = append(addrs, t.addr)
		}
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT pg_try_advisory_xact_lock_shared($1, $2)", lockSpace, lockWriters)
	b.Queue("SELECT nextval('message_ids') FROM generate_series(1, $1)", len(group))
	loading := w.queueLoad(b, addrs)
	br := conn.SendBatch(ctx, b)
	open = true
	ids, err := func() ([]int64, error) {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		var writers bool
		if err := br.QueryRow().Scan(&writers); err != nil {
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
	received, heads, raws := make([]int64, len(group)), make([][]byte, len(group)), make([][]byte, len(group))
	for i, p := range group {
		p.id, p.changed = uint64(ids[i]), false
		received[i], heads[i], raws[i] = nanos(p.at), p.head, p.raw
		for _, t := range p.targets {
			added, err := w.observe(p.id, p.at, t.addr, t.obs)
			if err != nil {
				return fmt.Errorf("message %d: %s: %w", p.id, t.addr, err)
			}
			p.changed = p.changed || added
		}
	}
	w.sizes["messages"] += int64(len(group))
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO messages (id, received, head, raw)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])`, ids, received, heads, raws)
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
