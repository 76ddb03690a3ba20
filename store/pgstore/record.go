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

// groupCommit lets concurrent Records share a transaction and its commit,
// as the bbolt engine's does: the first to arrive commits at once, and
// those that arrive meanwhile go together into the next transaction.
type groupCommit struct {
	db      *DB
	mu      sync.Mutex
	pending []*pending
	running bool
}

func (g *groupCommit) do(ctx context.Context, p *pending) error {
	g.mu.Lock()
	g.pending = append(g.pending, p)
	lead := !g.running
	g.running = true
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

func (g *groupCommit) commitNext() {
	g.mu.Lock()
	n := min(len(g.pending), maxGroup)
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	g.commit(group)

	g.mu.Lock()
	if len(g.pending) == 0 {
		g.running = false
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

// recordGroup stores the messages in one transaction.
func (db *DB) recordGroup(ctx context.Context, group []*pending) error {
	start := time.Now()
	defer func() { db.metrics.observeCommit(time.Since(start), len(group)) }()
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := takeWriters(ctx, tx); err != nil {
			return err
		}
		w := db.newWork(tx, false)
		var addrs []string
		for _, p := range group {
			for _, t := range p.targets {
				addrs = append(addrs, t.addr)
			}
		}
		if err := w.load(ctx, addrs); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT nextval('message_ids') FROM generate_series(1, $1)", len(group))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("message ids: %w", err)
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
		if _, err := tx.Exec(ctx, `INSERT INTO messages (id, received, head, raw)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])`, ids, received, heads, raws); err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		return w.flush(ctx)
	})
}
