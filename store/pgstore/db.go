// Package pgstore is the PostgreSQL engine of the store: bouncesink's
// state in a database that several bouncesink processes, on several
// hosts, share. It implements the contract of package store (store.Store)
// with the same guarantees as the embedded engine, across processes:
//
//   - Record commits a message and all its observations in one
//     transaction with synchronous commit, so the 250 follows the commit;
//     concurrent calls share transactions (group commit).
//   - Every write transaction first takes a transaction-level advisory
//     lock per address it touches, in one global order, so two hosts
//     recording bounces for the same address at once apply the policy one
//     after the other, on the state the other committed, and never
//     deadlock. A transaction that fails with a serialization failure or a
//     deadlock (SQLSTATE 40001, 40P01) is retried.
//   - The audit trail is numbered from a one-row counter that its writers
//     update as the last step before they commit: the row lock orders
//     their commits, so entries become visible in the order of their
//     numbers, without gaps (a rolled back transaction gives its numbers
//     back). Readers of the feed never skip an entry that commits late.
//     Appends are announced with NOTIFY, so AuditChanged fires on every
//     instance.
//   - Rebuild runs in one transaction while holding the writers' lock
//     exclusively: writers on every host fail with store.ErrRebuilding
//     meanwhile, and readers see the old state until it commits.
//
// The schema is created and migrated by Open, under an advisory lock, so
// that instances starting together do not race.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bouncesink/bouncesink/store"
)

var _ store.Store = (*DB)(nil)

// Options configure Open.
type Options struct {
	// Policy decides suppressions; the zero Policy means DefaultPolicy.
	Policy store.Policy
	// Now is the clock for admin actions and Activity; nil means time.Now.
	Now func() time.Time
	// MaxConns bounds the connection pool; zero means 16.
	MaxConns int32
}

// DB is the PostgreSQL-backed store.
type DB struct {
	pool    *pgxpool.Pool
	policy  store.Policy
	now     func() time.Time
	commits *groupCommit
	metrics *Metrics

	auditMu sync.Mutex
	auditCh chan struct{}

	channel string // of NOTIFY, quoted

	leasesMu  sync.Mutex
	leases    map[*lease]bool
	stop      context.CancelFunc
	bg        sync.WaitGroup
	closeOnce sync.Once
}

// Open connects to the database that dsn names (a postgres:// URL or a
// key=value string, as libpq takes), creates or migrates the schema, and
// starts listening for the audit trail's notifications.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	policy := opts.Policy
	if policy == (store.Policy{}) {
		policy = store.DefaultPolicy()
	}
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	// 250 means committed: whatever the server's default, a commit
	// returns once it is durable (on the primary, and on synchronous
	// standbys if the operator configured some).
	if cfg.ConnConfig.RuntimeParams["synchronous_commit"] == "" ||
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] == "off" || cfg.ConnConfig.RuntimeParams["synchronous_commit"] == "local" {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "bouncesink"
	// Check of a whole send list hashes the suppression list: 4 MB, the
	// server's default, spills 100,000 suppressions to disk.
	if cfg.ConnConfig.RuntimeParams["work_mem"] == "" {
		cfg.ConnConfig.RuntimeParams["work_mem"] = "32MB"
	}
	cfg.MaxConns = 16
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	m := newMetrics()
	cfg.ConnConfig.Tracer = m
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	bgctx, stop := context.WithCancel(context.Background())
	db := &DB{pool: pool, policy: policy, now: now, metrics: m, auditCh: make(chan struct{}), stop: stop, leases: map[*lease]bool{}}
	db.commits = &groupCommit{db: db}
	// The channel is the schema's, so that stores in other schemas of the
	// same database do not wake this one.
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		stop()
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db.channel = pgx.Identifier{"bouncesink_audit_" + schema}.Sanitize()
	listener, err := db.startListening(ctx)
	if err != nil {
		stop()
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: listen: %w", err)
	}
	db.bg.Go(func() { db.listen(bgctx, listener) })
	db.bg.Go(func() { db.compactLoop(bgctx) })
	return db, nil
}

// Close stops the background work and closes the pool. Later calls do
// nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.leasesMu.Lock()
		for l := range db.leases {
			l.end()
		}
		db.leasesMu.Unlock()
		db.stop()
		db.bg.Wait()
		db.pool.Close()
	})
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Pool returns the connection pool's statistics, for /metrics.
func (db *DB) Pool() *pgxpool.Stat { return db.pool.Stat() }

// Metrics returns the query latency figures, for /metrics.
func (db *DB) Metrics() *Metrics { return db.metrics }

// notifyAudit wakes whoever waits on AuditChanged in this process.
func (db *DB) notifyAudit() {
	db.auditMu.Lock()
	close(db.auditCh)
	db.auditCh = make(chan struct{})
	db.auditMu.Unlock()
}

// AuditChanged returns a channel that is closed once entries are appended
// to the audit trail after the call, by this process or another one.
func (db *DB) AuditChanged() <-chan struct{} {
	db.auditMu.Lock()
	defer db.auditMu.Unlock()
	return db.auditCh
}

// listen follows the other instances' appends to the audit trail on
// conn, and on a new connection when that one fails; reconnecting, it
// wakes the followers, who may have missed a notification meanwhile.
func (db *DB) listen(ctx context.Context, conn *pgx.Conn) {
	for {
		for conn != nil {
			_, err := conn.WaitForNotification(ctx)
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				break
			}
			db.notifyAudit()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		conn, _ = db.startListening(ctx)
		db.notifyAudit()
	}
}

func (db *DB) startListening(ctx context.Context) (*pgx.Conn, error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	conn := c.Hijack()
	if _, err := conn.Exec(ctx, "LISTEN "+db.channel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// Retry of transactions that the database aborted for a conflict with
// another one: a serialization failure (SQLSTATE 40001, which CockroachDB
// and YugabyteDB return for any conflict) or a deadlock (40P01).
const maxAttempts = 8

func retryable(err error) bool {
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		switch pe.SQLState() {
		case "40001", "40P01":
			return true
		}
	}
	return false
}

// inTx runs fn in a transaction, retrying it when the database asks to.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			db.metrics.retries.Add(1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
			}
		}
		err = pgx.BeginFunc(ctx, db.pool, fn)
		if !retryable(err) {
			return err
		}
	}
	return err
}

// Engine names the engine: "postgres".
func (db *DB) Engine() string { return "postgres" }
