package boltstore

import (
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many messages one transaction commits.
const maxGroup = 1000

// groupCommit lets concurrent writers share transactions and their fsync
// without waiting for a timer: the first writer to arrive commits at once,
// and those that arrive while it is on disk are committed together right
// after it. Under load every fsync carries as many messages as arrived
// during the previous one; alone, a writer waits for nothing but its own
// fsync. (bbolt's Batch instead holds every batch open for MaxBatchDelay,
// 10 ms, which caps an SMTP server whose clients each wait for their 250.)
type groupCommit struct {
	db     *bolt.DB
	groups groups[*commitReq]

	// tally is the counter increments of the transaction being committed
	// (counters.go), which its writers add to and commit writes once at
	// the end. Only the goroutine committing uses it.
	tally tally
	// now is the clock of the hour counters' pruning.
	now func() time.Time
	// before, if set, runs first in every transaction: it applies the
	// journaled messages (apply.go).
	before func(*bolt.Tx, tally) error
}

type commitReq struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// Commits returns how many bbolt transactions have applied journaled
// messages since Open, and how many messages they applied: the
// benchmarks' figure of messages per commit.
func (db *DB) Commits() (transactions, messages int64) {
	return db.applyTxs.Load(), db.appliedMsgs.Load()
}

// JournalWrites returns how many writes (each with its fsync) the journal
// made since Open, the frames they carried, and their bytes.
func (db *DB) JournalWrites() (writes, frames, bytes int64) {
	return db.journalWrites.Load(), db.journalFrames.Load(), db.journalBytes.Load()
}

// do runs fn in a write transaction shared with other writers and returns
// once that transaction is durable. As with bbolt's Batch, fn may run more
// than once (when a writer in the same group fails, the rest are retried
// without it), so it must not change state outside tx except its results.
func (g *groupCommit) do(fn func(*bolt.Tx) error) error {
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	g.groups.join(req, g.commit)
	return <-req.done
}

// groups lets concurrent callers share one piece of work, the commit of a
// transaction or the journal's write and fsync: the first caller to
// arrive does it for itself at once, and those that arrive meanwhile are
// done together right after, by a new goroutine, so the caller that led
// is answered as soon as its own group is done.
type groups[T any] struct {
	mu      sync.Mutex
	pending []T
	running bool // a goroutine is at work; it will take pending too
	last    int  // the size of the group taken last
	// gather, if set, says how long to wait for more callers to join
	// before taking a group, given the size of the group taken last.
	gather func(last int) time.Duration
}

// join adds r to the next group, and runs do on the groups until none is
// left if no goroutine is at it already.
func (q *groups[T]) join(r T, do func([]T)) {
	q.mu.Lock()
	q.pending = append(q.pending, r)
	lead := !q.running
	q.running = true
	q.mu.Unlock()
	if lead {
		q.next(do)
	}
}

// next does one group of at most maxGroup, then hands the rest, if any,
// to a new goroutine.
func (q *groups[T]) next(do func([]T)) {
	if q.gather != nil {
		q.mu.Lock()
		d := q.gather(q.last)
		q.mu.Unlock()
		if d > 0 {
			time.Sleep(d)
		}
	}
	q.mu.Lock()
	n := min(len(q.pending), maxGroup)
	group := q.pending[:n:n]
	q.pending = q.pending[n:]
	q.last = n
	q.mu.Unlock()

	do(group)

	q.mu.Lock()
	if len(q.pending) == 0 {
		q.running = false
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	go q.next(do)
}

// commit runs the group in one transaction. A writer whose function fails
// gets its error and the others are retried without it.
func (g *groupCommit) commit(group []*commitReq) {
	for len(group) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			g.tally = tally{}
			defer func() { g.tally = nil }()
			if g.before != nil {
				if err := g.before(tx, g.tally); err != nil {
					return err
				}
			}
			for i, r := range group {
				if err := call(r.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			syncFreelist(g.db)
			return g.flush(tx)
		})
		if failed < 0 {
			for _, r := range group {
				r.done <- err
			}
			return
		}
		group[failed].done <- err
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// flush writes the transaction's counter increments, after dropping the
// hour counters that have aged out. A failure here fails the whole group.
func (g *groupCommit) flush(tx *bolt.Tx) error {
	if len(g.tally) == 0 {
		return nil
	}
	counters := tx.Bucket(bucketCounters)
	if err := pruneHours(tx.Bucket(bucketMeta), counters, g.now()); err != nil {
		return err
	}
	return g.tally.flush(counters)
}

// call runs fn, turning a panic into an error for its writer alone.
func call(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in transaction: %v", p)
		}
	}()
	return fn(tx)
}
