package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a copy of the database as of one read transaction,
// taken while Record and the rest go on: a bbolt file that holds
// everything, the raw messages included. The live file refers to the raw
// messages in its journal's segments, so the copy is first written
// beside it (bbolt's Tx.WriteTo), then given those messages, then sent:
// the backup needs its size in free disk space for a while.
func (db *DB) Backup(ctx context.Context, start func(size int64) io.Writer) error {
	if err := db.backup(ctx, start); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

func (db *DB) backup(ctx context.Context, start func(size int64) io.Writer) error {
	tmp, err := os.CreateTemp(filepath.Dir(db.bolt.Path()), ".backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	err = db.view(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(ctxWriter{ctx, tmp})
		return err
	})
	if err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := db.inlineRaw(ctx, tmp.Name()); err != nil {
		return err
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = io.Copy(ctxWriter{ctx, start(fi.Size())}, f)
	return err
}

// inlineRaw gives the copy at path the raw messages its raw bucket refers
// to in the segments, and forgets the journal: it is a store of its own
// (a new journal id), which a restore opens with no segments beside it.
func (db *DB) inlineRaw(ctx context.Context, path string) error {
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: DefaultLockTimeout, NoSync: true})
	if err != nil {
		return err
	}
	defer b.Close()
	var after []byte
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := b.Update(func(tx *bolt.Tx) error {
			raws := inOrder(tx.Bucket(bucketRaw))
			c := raws.Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			var keys, vals [][]byte
			for ; k != nil && len(keys) < 1000; k, v = c.Next() {
				if !isRawRef(v) {
					continue
				}
				raw, err := db.jr.readRaw(v)
				switch {
				case errors.Is(err, errSegmentGone):
					raw = nil // pruned in the copy, as it reads live
				case err != nil:
					return fmt.Errorf("raw message %x: %w", k, err)
				}
				keys = append(keys, bytes.Clone(k))
				if raw != nil {
					vals = append(vals, db.compress(raw))
				} else {
					vals = append(vals, nil)
				}
			}
			done = k == nil
			for i, k := range keys {
				var err error
				if vals[i] != nil {
					err = raws.Put(k, vals[i])
				} else {
					err = raws.Delete(k)
				}
				if err != nil {
					return err
				}
				after = k
			}
			if done {
				meta := tx.Bucket(bucketMeta)
				if err := meta.Delete(keyJournalApplied); err != nil {
					return err
				}
				return meta.Put(keyJournalID, newStoreID())
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return b.Sync()
}

// ctxWriter stops a copy once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
