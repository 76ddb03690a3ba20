package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

var _ store.EndpointLeaser = (*DB)(nil)

// A lease is a session-level advisory lock held on a connection of its
// own: the database releases it when the process or its connection dies,
// so a standby instance takes the endpoint over, resuming at the cursor
// kept in webhook_cursors.
type lease struct {
	db       *DB
	endpoint string
	mu       sync.Mutex // the connection is used by one goroutine at a time
	conn     *pgx.Conn
	lost     chan struct{}
	lostOnce sync.Once
	done     chan struct{}
}

// leaseCheck is how often a held lease's connection is checked.
const leaseCheck = 2 * time.Second

// LeaseEndpoint waits until this process holds the endpoint's lease.
func (db *DB) LeaseEndpoint(ctx context.Context, endpoint string) (store.EndpointLease, error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lease %s: %w", endpoint, err)
	}
	conn := c.Hijack()
	for {
		var ok bool
		err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", lockWebhookSpace, endpoint).Scan(&ok)
		if err != nil {
			conn.Close(context.Background())
			return nil, fmt.Errorf("store: lease %s: %w", endpoint, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			conn.Close(context.Background())
			return nil, fmt.Errorf("store: lease %s: %w", endpoint, ctx.Err())
		case <-time.After(leaseCheck):
		}
	}
	l := &lease{db: db, endpoint: endpoint, conn: conn, lost: make(chan struct{}), done: make(chan struct{})}
	db.leasesMu.Lock()
	db.leases[l] = true
	db.leasesMu.Unlock()
	go l.watch()
	return l, nil
}

// watch checks the connection until the lease ends.
func (l *lease) watch() {
	t := time.NewTicker(leaseCheck)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		l.mu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), leaseCheck)
		err := l.conn.Ping(ctx)
		cancel()
		l.mu.Unlock()
		if err != nil {
			l.markLost()
			return
		}
	}
}

func (l *lease) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

func (l *lease) Lost() <-chan struct{} { return l.lost }

func (l *lease) Cursor(ctx context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var seq int64
	err := l.conn.QueryRow(ctx, "SELECT seq FROM webhook_cursors WHERE endpoint = $1", l.endpoint).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		l.markLost()
		return 0, fmt.Errorf("store: webhook cursor %s: %w", l.endpoint, err)
	}
	return uint64(seq), nil
}

func (l *lease) SetCursor(ctx context.Context, seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.lost:
		return fmt.Errorf("store: webhook cursor %s: lease lost", l.endpoint)
	default:
	}
	// On the lease's own connection: if the lock is gone, so is this.
	_, err := l.conn.Exec(ctx, `INSERT INTO webhook_cursors (endpoint, seq) VALUES ($1, $2)
		ON CONFLICT (endpoint) DO UPDATE SET seq = excluded.seq`, l.endpoint, int64(seq))
	if err != nil {
		l.markLost()
		return fmt.Errorf("store: webhook cursor %s: %w", l.endpoint, err)
	}
	return nil
}

func (l *lease) Release() {
	l.db.leasesMu.Lock()
	delete(l.db.leases, l)
	l.db.leasesMu.Unlock()
	l.end()
}

// end closes the connection, which releases the lock.
func (l *lease) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return
	default:
	}
	close(l.done)
	l.conn.Close(context.Background())
	l.markLost()
}
