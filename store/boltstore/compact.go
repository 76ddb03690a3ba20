package boltstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bouncesink/bouncesink/store"

	bolt "go.etcd.io/bbolt"
)

// A bbolt file never shrinks by itself: pages freed by a prune (or by
// records rewritten in place) go on the freelist, and later transactions
// write into them before they grow the file, so a store whose retention
// prunes about what arrives stays about the same size. Compact gives the
// space back to the file system at once, offline.

// CompactStats says what Compact did.
type CompactStats struct {
	Before, After int64 // file sizes, bytes
	Took          time.Duration
}

// compactTxBytes bounds the key and value bytes Compact copies per
// transaction of the new file, so that a large store does not need its
// whole size in memory.
const compactTxBytes = 64 << 20

// Compact rewrites the store at path into a new file beside it, with full
// pages and no free ones (bbolt's Compact), checks that the copy holds as
// many keys in every bucket, then puts it in place of the old file with a
// rename, which a crash leaves either done or not done. No other process
// may hold the store: Compact takes the file lock, waiting at most
// lockTimeout (zero means DefaultLockTimeout), and keeps it until the new
// file is in place. A server started meanwhile finds the new file (Open
// checks that the file it locked is still the one at path).
//
// It needs free disk space for the new file: about the store's size less
// its free pages.
func Compact(path string, lockTimeout time.Duration) (CompactStats, error) {
	start := time.Now()
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	fi, err := os.Stat(path)
	if err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	src, err := openBolt(path, lockTimeout)
	if errors.Is(err, bolt.ErrTimeout) {
		return CompactStats{}, fmt.Errorf("store: compact %s: %w (waited %s)", path, store.ErrLocked, lockTimeout)
	}
	if err != nil {
		return CompactStats{}, fmt.Errorf("store: compact %s: %w", path, err)
	}
	defer src.Close()

	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	dst, err := bolt.Open(tmp, fi.Mode().Perm(), &bolt.Options{
		Timeout: lockTimeout, NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			dst.Close()
			os.Remove(tmp)
		}
	}()
	if err := bolt.Compact(dst, src, compactTxBytes); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact %s: %w", path, err)
	}
	if err := sameKeys(src, dst); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact %s: the copy differs: %w", path, err)
	}
	// A last commit writes the (empty) freelist, so that opening the new
	// file need not walk it to find free pages.
	dst.NoFreelistSync = false
	if err := dst.Update(func(*bolt.Tx) error { return nil }); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	// bbolt grows a file 16 MB at a time: cut the new one where its last
	// page ends, so a small store does not come out larger than it went in.
	var used int64
	if err := dst.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	if err := truncateSync(tmp, used); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	keep = true
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	after, err := os.Stat(path)
	if err != nil {
		return CompactStats{}, fmt.Errorf("store: compact: %w", err)
	}
	return CompactStats{Before: fi.Size(), After: after.Size(), Took: time.Since(start)}, nil
}

// sameKeys checks that every top-level bucket of a has as many keys in b.
func sameKeys(a, b *bolt.DB) error {
	counts := func(db *bolt.DB) (map[string]int, error) {
		m := map[string]int{}
		err := db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
				m[string(name)] = bk.Stats().KeyN
				return nil
			})
		})
		return m, err
	}
	ca, err := counts(a)
	if err != nil {
		return err
	}
	cb, err := counts(b)
	if err != nil {
		return err
	}
	if len(ca) != len(cb) {
		return fmt.Errorf("%d buckets, the copy %d", len(ca), len(cb))
	}
	for name, n := range ca {
		if cb[name] != n {
			return fmt.Errorf("bucket %s: %d keys, the copy %d", name, n, cb[name])
		}
	}
	return nil
}

// truncateSync cuts the file at path to size and makes it durable.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
