package boltstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Rebuild replaces the observations of every stored message with those
// reobserve returns for it, and rebuilds from them what the store derives
// from observations: each recipient's counters and event history, and the
// policy's suppressions. The raw messages, their ids and envelopes stay;
// it is how a classifier change reaches the addresses it wrongly
// suppressed (or missed) without losing history.
//
// Messages are replayed in id order, each at its Received time, through
// the same policy as Record, so a reobserve that returns every message's
// stored observations leaves the state as it was (event sequence numbers
// aside: new events are numbered after the old ones). Admin actions are
// kept in each address's history and replayed where they happened: before
// the first message received after them. A manual suppression thus stays
// (unless the new verdicts suppressed the address earlier, whose
// suppression then stands, as Suppress would have left it), and a Lift
// still forgets the bounces and complaints before it.
//
// reobserve gets each message with its stored observations; it is called
// from the calling goroutine, outside any transaction. To keep a message's
// observations, return m.Observations. An error from it, a cancelled ctx
// or a storage failure stops the Rebuild and leaves the store as it was:
// the new state is built beside the live one, a chunk of messages per
// transaction, and swapped in by one final transaction. Meanwhile the file
// grows by about the size of the state (not of the raw messages).
//
// Record, Suppress and Lift on this DB fail with ErrRebuilding until
// Rebuild returns; bbolt's file lock keeps other processes (a running
// server) out, so a server must be stopped first.
func (db *DB) Rebuild(ctx context.Context, reobserve func(m store.StoredMessage) ([]store.Observation, error), opts store.RebuildOptions) (stats store.RebuildStats, err error) {
	if reobserve == nil {
		return store.RebuildStats{}, errors.New("store: rebuild: no reobserve function")
	}
	if opts.ChunkMessages <= 0 {
		opts.ChunkMessages = store.DefaultRebuildChunk
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = store.DefaultRebuildChunkBytes
	}
	if err := ctx.Err(); err != nil {
		return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
	}
	db.writers.Lock()
	defer db.writers.Unlock()

	r := &rebuild{db: db, reobserve: reobserve, opts: opts}
	if err := db.update(r.start); err != nil {
		return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
	}
	defer func() {
		if err != nil {
			// The live buckets are untouched; drop the half-built copies
			// (Open would, if this fails too).
			db.update(dropRebuild)
		}
	}()
	if opts.Progress != nil {
		opts.Progress(0, r.total)
	}
	for {
		if err := ctx.Err(); err != nil {
			return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
		}
		n, err := r.chunk()
		if err != nil {
			return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
		}
		if n == 0 {
			break
		}
		if opts.Progress != nil {
			opts.Progress(r.stats.Messages, r.total)
		}
	}
	if err := db.update(r.finish); err != nil {
		return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
	}
	if err := db.update(r.swap); err != nil {
		return store.RebuildStats{}, fmt.Errorf("store: rebuild: %w", err)
	}
	if r.stats.Added+r.stats.Removed+r.stats.Changed > 0 {
		db.notifyAudit()
	}
	return r.stats, nil
}

// rebuild is the state of one Rebuild between its transactions.
type rebuild struct {
	db        *DB
	reobserve func(store.StoredMessage) ([]store.Observation, error)
	opts      store.RebuildOptions

	total      int           // messages to replay
	eventsBase uint64        // the sequence the new events start after
	after      uint64        // the last message id replayed
	admin      []adminAction // in time order
	next       int           // admin[next] is the first not yet replayed
	stats      store.RebuildStats
}

// start creates the staging buckets and collects the admin actions.
func (r *rebuild) start(tx *bolt.Tx) error {
	if err := dropRebuild(tx); err != nil {
		return err
	}
	stage, err := tx.CreateBucket(bucketRebuild)
	if err != nil {
		return fmt.Errorf("create %s: %w", bucketRebuild, err)
	}
	for _, name := range rebuiltBuckets {
		if _, err := stage.CreateBucket(name); err != nil {
			return fmt.Errorf("create %s/%s: %w", bucketRebuild, name, err)
		}
	}
	// New events are numbered after the old ones, so that no sequence
	// number a client saw comes back meaning another event.
	r.eventsBase = tx.Bucket(bucketEvents).Sequence()
	if err := stage.Bucket(bucketEvents).SetSequence(r.eventsBase); err != nil {
		return fmt.Errorf("event sequence: %w", err)
	}
	r.total = tx.Bucket(bucketMessages).Stats().KeyN
	r.admin, err = adminActions(tx)
	r.stats.AdminActions = len(r.admin)
	return err
}

// dropRebuild deletes the staging buckets of an unfinished Rebuild, if any.
func dropRebuild(tx *bolt.Tx) error {
	if tx.Bucket(bucketRebuild) == nil {
		return nil
	}
	if err := tx.DeleteBucket(bucketRebuild); err != nil {
		return fmt.Errorf("drop unfinished rebuild: %w", err)
	}
	return nil
}

// rebuiltBuckets are the buckets a Rebuild writes anew and swaps in.
var rebuiltBuckets = [][]byte{bucketMessages, bucketRecipients, bucketEvents, bucketSuppressions, bucketCounters}

func stagingState(tx *bolt.Tx) stateBuckets {
	stage := tx.Bucket(bucketRebuild)
	return stateBuckets{
		recipients:   stage.Bucket(bucketRecipients),
		events:       stage.Bucket(bucketEvents),
		suppressions: stage.Bucket(bucketSuppressions),
		counters:     stage.Bucket(bucketCounters),
	}
}

// replayed is one message ready to replay: its new head and targets.
type replayed struct {
	id           uint64
	received     time.Time
	head         []byte
	targets      []target
	observations int
}

// chunk replays the next chunk of messages and returns how many it did.
// It reads them in one read transaction, reobserves them outside any, and
// writes them in one write transaction.
func (r *rebuild) chunk() (int, error) {
	var page []storedBytes
	err := r.db.view(func(tx *bolt.Tx) error {
		var err error
		page, err = readMessages(tx, r.after, r.opts.ChunkMessages, r.opts.ChunkBytes)
		return err
	})
	if err != nil || len(page) == 0 {
		return 0, err
	}
	batch := make([]replayed, len(page))
	for i, sb := range page {
		if batch[i], err = r.prepare(sb); err != nil {
			return 0, err
		}
	}
	err = r.db.update(func(tx *bolt.Tx) error {
		state := stagingState(tx)
		heads := inOrder(tx.Bucket(bucketRebuild).Bucket(bucketMessages))
		for _, p := range batch {
			if err := r.replayAdmin(state, func(a adminAction) bool { return a.at.Before(p.received) }); err != nil {
				return err
			}
			if err := heads.Put(u64(p.id), p.head); err != nil {
				return fmt.Errorf("message %d: %w", p.id, err)
			}
			for _, t := range p.targets {
				if _, err := r.db.observe(state, p.id, p.received, t); err != nil {
					return fmt.Errorf("message %d: %s: %w", p.id, t.addr, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	r.after = page[len(page)-1].id
	r.stats.Messages += len(page)
	for _, p := range batch {
		r.stats.Observations += p.observations
	}
	return len(page), nil
}

// prepare decodes a stored message, asks reobserve for its observations
// and encodes its new head.
func (r *rebuild) prepare(sb storedBytes) (replayed, error) {
	m, err := r.db.decode(sb)
	if err != nil {
		return replayed{}, err
	}
	obs := m.Observations
	if m.RawPruned {
		r.stats.NotReread++ // nothing to classify again: the verdicts stand
	} else if obs, err = r.reobserve(m); err != nil {
		return replayed{}, fmt.Errorf("message %d: reobserve: %w", m.ID, err)
	}
	rec := messageRecord{
		Received:      m.Received,
		EnvelopeFrom:  m.EnvelopeFrom,
		EnvelopeTo:    m.EnvelopeTo,
		RawSize:       len(m.Raw),
		Duplicates:    m.Duplicates,
		LastDuplicate: m.LastDuplicate,
	}
	if m.RawPruned {
		old, err := decodeHead(sb.id, sb.head) // decode read it: cannot fail
		if err != nil {
			return replayed{}, err
		}
		rec.RawSize = old.RawSize
	}
	p := replayed{id: m.ID, received: m.Received, observations: len(obs)}
	if p.head, p.targets, err = prepareHead(rec, obs); err != nil {
		return replayed{}, fmt.Errorf("message %d: %w", m.ID, err)
	}
	return p, nil
}

// finish replays the admin actions after the last message and sets the
// new buckets' sequences.
func (r *rebuild) finish(tx *bolt.Tx) error {
	if err := r.replayAdmin(stagingState(tx), func(adminAction) bool { return true }); err != nil {
		return err
	}
	// Ids keep counting from where they were.
	seq := tx.Bucket(bucketMessages).Sequence()
	if err := tx.Bucket(bucketRebuild).Bucket(bucketMessages).SetSequence(seq); err != nil {
		return fmt.Errorf("message sequence: %w", err)
	}
	return nil
}

// swap puts the rebuilt buckets in place of the live ones and reports the
// suppressions that changed. It must not write to the staging buckets:
// MoveBucket moves a bucket as last committed, so what the same
// transaction wrote to it would be lost.
func (r *rebuild) swap(tx *bolt.Tx) error {
	stage := tx.Bucket(bucketRebuild)
	state := stagingState(tx)
	audit, byAddr := inOrder(tx.Bucket(bucketAudit)), tx.Bucket(bucketAuditByAddr)
	counts, err := diffSuppressions(&r.stats, tx.Bucket(bucketSuppressions), state.suppressions, func(c store.SuppressionChange) error {
		e := store.AuditEntry{Address: c.Address, Actor: store.ActorReclassify, Before: c.Before, After: c.After, Action: store.AuditChange}
		switch {
		case c.Before == nil:
			e.Action = store.AuditSuppress
		case c.After == nil:
			e.Action = store.AuditLift
		}
		return writeAudit(audit, byAddr, r.db.now(), e)
	})
	if err != nil {
		return err
	}
	if err := rebuildSortIndexes(tx, state.suppressions); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := setSuppressedCounts(meta, counts); err != nil {
		return err
	}
	if err := meta.Put(keyEventsBase, u64(r.eventsBase)); err != nil {
		return fmt.Errorf("event counter: %w", err)
	}
	if err := meta.Delete(keyEventsPruned); err != nil { // none of the new events yet
		return fmt.Errorf("event counter: %w", err)
	}
	r.stats.Recipients = int(state.recipients.Sequence())
	for _, name := range rebuiltBuckets {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop old %s: %w", name, err)
		}
		if err := tx.MoveBucket(name, stage, nil); err != nil {
			return fmt.Errorf("move new %s: %w", name, err)
		}
	}
	return tx.DeleteBucket(bucketRebuild)
}
