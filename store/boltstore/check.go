package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// CheckFile opens a database file read-only (a backup, say), runs bbolt's
// consistency check over every page (what "bbolt check" does) and returns
// the store's sizes. A damaged file is an error wrapping ErrDamaged.
func CheckFile(path string) (st store.Stats, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: check %s: %w: %v", path, ErrDamaged, p)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return store.Stats{}, fmt.Errorf("store: check %s: %w", path, err)
	}
	if fi.Size() < 2*int64(os.Getpagesize()) {
		return store.Stats{}, fmt.Errorf("store: check %s: %w: %d bytes", path, ErrDamaged, fi.Size())
	}
	b, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: DefaultLockTimeout})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store: check %s: %w: %w", path, ErrDamaged, err)
	}
	defer b.Close()
	if err := checkSize(b, path); err != nil {
		return store.Stats{}, fmt.Errorf("store: check %s: %w", path, err)
	}
	err = b.View(func(tx *bolt.Tx) error {
		// First every page from this goroutine (see walkFile): bbolt's
		// check runs in one of its own, where a page failing its
		// assertion would end the process.
		tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { walkBucket(bk); return nil })
		var errs []error
		for err := range tx.Check() {
			if errs = append(errs, err); len(errs) == 10 {
				break
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrDamaged, errors.Join(errs...))
		}
		// The buckets every version of the schema has.
		for _, name := range [][]byte{bucketMeta, bucketMessages, bucketRaw, bucketRecipients, bucketEvents, bucketSuppressions} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: no bucket %s: not a bouncesink database", ErrDamaged, name)
			}
		}
		return nil
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store: check %s: %w", path, err)
	}
	return (&DB{bolt: b}).Stats(context.Background())
}
