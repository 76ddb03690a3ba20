package boltstore

import (
	"context"
	"errors"
	"github.com/bouncesink/bouncesink/store"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	db, path := openTest(t, Options{})
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode %o, want 600", mode)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if mode := di.Mode().Perm(); mode != 0o700 {
		t.Errorf("directory mode %o, want 700", mode)
	}
}

func TestOpenLocked(t *testing.T) {
	_, path := openTest(t, Options{})
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestOpenRefusesOtherSchema(t *testing.T) {
	for _, version := range []string{"99", "3", "0", "two"} {
		db, path := openTest(t, Options{})
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(version))
		})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := Open(path, Options{}); err == nil {
			t.Fatalf("Open accepted schema version %s", version)
		}
	}
}

// A file of schema version 1 opens, and is stamped version 2: its records
// still read, and the builds of version 1 would misread what this one writes.
func TestOpenStampsEarlierSchema(t *testing.T) {
	db, path := openTest(t, Options{})
	record(t, db, bounce("a@example.com", "hard", t0))
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	db.bolt.View(func(tx *bolt.Tx) error {
		got = string(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	})
	if got != "2" {
		t.Errorf("schema version %q after Open, want 2", got)
	}
	if r, _, err := db.Recipient(context.Background(), "a@example.com"); err != nil || r.Counts["hard"] != 1 {
		t.Errorf("recipient: %+v, %v", r, err)
	}
}
