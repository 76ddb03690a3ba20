// Package boltstore is the embedded engine of the store: all of
// bouncesink's state in one bbolt file, which one process holds at a time.
// It implements the contract of package store (store.Store) and is the
// default; several hosts sharing one suppression list need an engine with
// a database server instead.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the layout of the buckets below. Open refuses a file
// written with a later version rather than misread it, and stamps one of
// an earlier version it reads (oldestSchema on) with this one, so that
// the builds of that version refuse the file once this one has written
// to it. Version 2: events and recipient records may refer to an
// observation in their message's head (refFormat), which version 1's
// builds cannot read.
const (
	schemaVersion = 2
	oldestSchema  = 1
)

// The buckets, all created by Open.
var (
	bucketMeta         = []byte("meta")         // "schema" -> decimal version; counters, see stats.go
	bucketMessages     = []byte("messages")     // id (8 bytes BE) -> message head, see codec.go
	bucketRaw          = []byte("raw")          // id -> compressed raw message
	bucketRecipients   = []byte("recipients")   // address -> recipient record, see codec.go
	bucketEvents       = []byte("events")       // address 0x00 seq (8 bytes BE) -> event, see codec.go
	bucketSuppressions = []byte("suppressions") // address -> compact suppression, see codec.go
	bucketBySince      = []byte("by_since")     // since (8 bytes BE) address -> nothing, see index.go
	// bucketByReason and bucketByDetail (query.go): reason or detail, 0, address -> nothing
	bucketCounters    = []byte("counters")      // period, class, reason, domain -> count, see counters.go
	bucketAudit       = []byte("audit")         // seq (8 bytes BE) -> compact audit entry, see audit.go
	bucketAuditByAddr = []byte("audit_by_addr") // address 0x00 seq -> nothing
	allBuckets        = [][]byte{bucketMeta, bucketMessages, bucketRaw, bucketRecipients, bucketEvents,
		bucketSuppressions, bucketBySince, bucketByReason, bucketByDetail, bucketCounters, bucketAudit, bucketAuditByAddr,
		bucketDedupeByTime} // the last: see dedupe.go
	keySchema = []byte("schema")

	// bucketRebuild holds a Rebuild's work in progress: new copies of
	// bucketMessages, bucketRecipients, bucketEvents and
	// bucketSuppressions under their own names, swapped in at the end.
	// Open drops one that a crash left behind.
	bucketRebuild = []byte("rebuild")
)

// inOrder sets b, a bucket whose keys are written in increasing order
// (ids, sequence numbers, times), to fill its pages before it splits
// them. bbolt splits a full page at half its size by default, which
// suits keys arriving anywhere but leaves an append-only bucket's pages
// half empty for ever. It applies to this transaction's handle only.
func inOrder(b *bolt.Bucket) *bolt.Bucket {
	b.FillPercent = 1.0
	return b
}

// DefaultLockTimeout is how long Open waits for the file lock by default.
const DefaultLockTimeout = 2 * time.Second

// Options configure Open.
type Options struct {
	// Policy decides suppressions; the zero Policy means DefaultPolicy.
	// Any other value must pass Policy.Validate.
	Policy store.Policy
	// LockTimeout bounds the wait for the file lock that another process
	// may hold; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// Now is the clock for admin actions (Suppress, Lift); nil means
	// time.Now. The policy never reads it: it uses Message.Received.
	Now func() time.Time
	// DigestIndexSize bounds how many Digests of recent messages the
	// deduplication keeps in memory (see digestIndex); zero means
	// DefaultDigestIndexSize. Past it the oldest are forgotten first.
	DigestIndexSize int
}

var _ store.Store = (*DB)(nil)

// DB is the bbolt-backed store.
type DB struct {
	bolt    *bolt.DB
	commits *groupCommit // Record's shared transactions
	policy  store.Policy
	now     func() time.Time
	digests *digestIndex // nil if the policy's DuplicateWindow is 0

	inflaters sync.Pool // flate reader (io.ReadCloser and flate.Resetter)

	// The journal (journal.go, apply.go): Record's segments, its writer,
	// and the frames waiting to be applied.
	jr          *journal
	jw          journalWriter
	apq         applyQueue
	rawBytes    atomic.Int64  // Stats.RawBytes, with the queued messages
	curSeg      atomic.Uint64 // the segment being appended to
	quit        chan struct{} // closed by Close: the applier stops
	applierDone chan struct{}
	holdApply   atomic.Bool // tests: journal without applying, as a crash would leave it
	// stamped is the clock's reading at the last Record (Unix ns), for the
	// transactions the applier runs, which never call the clock: Options.Now
	// is only ever called from the callers' goroutines.
	stamped atomic.Int64

	// For Commits and JournalWrites.
	applyTxs, appliedMsgs                      atomic.Int64
	journalWrites, journalFrames, journalBytes atomic.Int64

	// writers is held for reading by Record, Suppress and Lift, and for
	// writing by Rebuild, whose swap would drop what they wrote meanwhile.
	writers sync.RWMutex

	// auditMu guards auditCh, closed and replaced after every commit
	// that appended to the audit trail (see AuditChanged).
	auditMu sync.Mutex
	auditCh chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed, with its parent directory) the database file.
//
// A file that is not a whole bbolt database (truncated, overwritten, not a
// database at all) is an error wrapping ErrDamaged, not a crash: bbolt
// reads the file through a memory map, so a page cut off by a truncation
// faults, and a damaged one can make it panic.
func Open(path string, opts Options) (db *DB, err error) {
	// The fault or panic of a damaged file, while Open reads it, becomes
	// this error. (The file lock bbolt may hold then is the process's
	// until it exits: the caller is about to report the file and stop.)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("store: open %s: %w: %v", path, ErrDamaged, p)
		}
	}()
	policy := opts.Policy
	if policy == (store.Policy{}) {
		policy = store.DefaultPolicy()
	}
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}

	// The file holds recipient addresses: keep it private to the owner.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// bbolt takes an empty file for a new database, and one shorter than
	// its two meta pages for an error of its own.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && fi.Size() < 2*int64(os.Getpagesize()) {
		return nil, fmt.Errorf("store: open %s: %w: %d bytes, shorter than a database's first two pages", path, ErrDamaged, fi.Size())
	} else if err == nil && fi.Size() > 0 {
		err := walkFile(path, timeout)
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store: open %s: %w (waited %s)", path, store.ErrLocked, timeout)
		}
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	b, err := openCurrent(path, timeout)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w (waited %s)", path, store.ErrLocked, timeout)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return nil, fmt.Errorf("store: open %s: %w: %w", path, ErrDamaged, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := checkSize(b, path); err != nil {
		b.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := b.Update(func(tx *bolt.Tx) error { return initSchema(tx, now()) }); err != nil {
		b.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db = &DB{bolt: b, commits: &groupCommit{db: b}, policy: policy, now: now, auditCh: make(chan struct{})}
	db.commits.now = db.lastStamp
	if policy.DuplicateWindow > 0 {
		if db.digests, err = loadDigestIndex(b, opts.DigestIndexSize); err != nil {
			b.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	db.commits.before = db.applyPending
	if err := db.openJournal(path); err != nil {
		b.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// openCurrent opens the file at path and checks that it is still there
// once locked: Compact, which holds the lock while it writes a new file,
// renames that over the old one; a server that was waiting for the lock
// would otherwise serve from the old file, now nameless, and lose its
// writes.
func openCurrent(path string, timeout time.Duration) (*bolt.DB, error) {
	for tries := 0; ; tries++ {
		before, statErr := os.Stat(path) // absent: bbolt creates it
		b, err := openBolt(path, timeout)
		if err != nil || statErr != nil {
			return b, err
		}
		if after, err := os.Stat(path); err == nil && os.SameFile(before, after) {
			return b, nil
		}
		b.Close()
		if tries == 2 {
			return nil, errors.New("the file was replaced while opening it, three times")
		}
	}
}

// openBolt opens the file. bbolt writes the list of the file's free pages
// at every commit, so that the next Open reads it rather than finding the
// free pages by walking the whole file; the group commit stops writing it
// while it is long (see syncFreelist). A file whose last commit did not
// write it is walked, which panics on a damaged file: that becomes an
// error here.
func openBolt(path string, timeout time.Duration) (b *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%w: reading the free pages: %v", ErrDamaged, p)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		FreelistType: bolt.FreelistMapType, // fast with many free pages, after a prune
	})
}

// maxSyncedFreePages is the longest freelist the commits write: a few
// pages. In use the file has about a hundred free pages at a time; a
// prune of a million raw messages frees hundreds of thousands, whose list
// (8 bytes a page) every commit would then write until later writes had
// reused them.
const maxSyncedFreePages = 1024

// syncFreelist decides, inside a write transaction of db, whether the
// commits that follow write the freelist. Between a long prune and the
// reuse of what it freed they do not, and an Open meanwhile walks the file
// to find the free pages (a few seconds per gigabyte).
func syncFreelist(db *bolt.DB) {
	st := db.Stats()
	db.NoFreelistSync = st.FreePageN+st.PendingPageN > maxSyncedFreePages
}

// ErrDamaged is wrapped by Open's error when the file is not a whole bbolt
// database: restore it from a backup (Backup), or examine it with bbolt's
// own "bbolt check".
var ErrDamaged = errors.New("the database file is damaged or truncated")

// walkFile reads every page of the file's B-trees, in this goroutine,
// before Open opens it for writing. That open may rebuild the list of
// free pages by walking the same pages (openBolt, when the last commits
// did not write the list), but from a goroutine of bbolt's own, where the
// assertion a damaged page fails would end the process instead of
// returning an error; here it is Open's panic, which Open turns into
// ErrDamaged. It leaves the pages in the page cache for bbolt's walk,
// and costs a few seconds per gigabyte at every start.
func walkFile(path string, timeout time.Duration) error {
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if err != nil {
		return err
	}
	defer b.Close()
	if err := checkSize(b, path); err != nil {
		return err
	}
	return b.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { walkBucket(bk); return nil })
	})
}

// walkBucket visits every page of b and of the buckets in it.
func walkBucket(b *bolt.Bucket) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				walkBucket(nested)
			}
		}
	}
}

// checkSize refuses a file shorter than the pages its last transaction
// wrote: a truncated file, whose missing pages would fault when read.
func checkSize(b *bolt.DB, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	var want int64
	b.View(func(tx *bolt.Tx) error { want = tx.Size(); return nil })
	if fi.Size() < want {
		return fmt.Errorf("%w: %d bytes, its last transaction wrote %d", ErrDamaged, fi.Size(), want)
	}
	return nil
}

// initSchema creates the buckets and checks or stamps the schema version.
func initSchema(tx *bolt.Tx, now time.Time) error {
	// An interrupted Rebuild: the live buckets were never touched.
	if err := dropRebuild(tx); err != nil {
		return err
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil {
		if err := meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion))); err != nil {
			return err
		}
	} else if got, err := strconv.Atoi(string(v)); err != nil || got < oldestSchema || got > schemaVersion {
		return fmt.Errorf("schema version %q, this build reads %d to %d", v, oldestSchema, schemaVersion)
	} else if got < schemaVersion {
		if err := meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion))); err != nil {
			return err
		}
	}
	if meta.Get(keyCounted) == nil {
		if err := countAll(tx); err != nil {
			return err
		}
	}
	if err := countRawBytes(tx, false); err != nil {
		return err
	}
	if err := migrateDedupe(tx); err != nil {
		return err
	}
	// Files written before the time index and the activity counters
	// existed get them once, from the data they derive from.
	if meta.Get(keyIndexed) == nil {
		if err := indexAll(tx, now); err != nil {
			return err
		}
	}
	// And files written before the reason and detail indexes, theirs.
	if meta.Get(keySortIndexed) == nil {
		if err := rebuildSortIndexes(tx, tx.Bucket(bucketSuppressions)); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database file. Later calls do nothing and return the
// first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		err := db.closeJournal()
		if err := errors.Join(err, db.bolt.Close()); err != nil {
			db.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return db.closeErr
}

// Ping checks that the database is open and readable.
func (db *DB) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if err := db.bolt.View(func(tx *bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Engine names the engine: "bbolt".
func (db *DB) Engine() string { return "bbolt" }
