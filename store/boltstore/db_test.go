package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// A second server started on the same file must fail with a clear error,
// not hang.
func TestOpenLocked(t *testing.T) {
	_, path := openTest(t, Options{})
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestOpenRefusesOtherSchema(t *testing.T) {
	db, path := openTest(t, Options{})
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("99"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("Open accepted schema version 99")
	}
}

func TestClose(t *testing.T) {
	db, _ := openTest(t, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := db.Record(context.Background(), bounce("a@example.com", "hard", t0)); err == nil {
		t.Error("Record after Close succeeded")
	}
}

// Everything recorded survives a restart: counts, history, suppressions
// and the raw bytes.
func TestReopen(t *testing.T) {
	db, path := openTest(t, Options{})
	ctx := context.Background()
	const n = 30
	raws := make(map[uint64][]byte)
	for i := range n {
		addr := fmt.Sprintf("user%d@example.com", i%10)
		m := bounce(addr, "hard", day(float64(i)))
		m.Raw = append(m.Raw, bytes.Repeat([]byte(fmt.Sprintf("line %d of the original message\r\n", i)), i)...)
		id := record(t, db, m)
		raws[id] = m.Raw
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 10 {
		addr := fmt.Sprintf("user%d@example.com", i)
		r, events, err := db.Recipient(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts["hard"] != 3 || len(events) != 3 {
			t.Errorf("%s: %d hard, %d events; want 3 and 3", addr, r.Counts["hard"], len(events))
		}
		for j, e := range events {
			if want := day(float64(i + 10*j)); !e.Time.Equal(want) {
				t.Errorf("%s event %d at %v, want %v", addr, j, e.Time, want)
			}
		}
		// Hard bounces 10 days apart: the second one suppresses.
		if !r.Suppressed || !r.Suppression.Since.Equal(day(float64(i+10))) {
			t.Errorf("%s: suppression %+v, want since day %d", addr, r.Suppression, i+10)
		}
	}
	for id, want := range raws {
		got, err := db.RawMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("message %d: raw bytes differ after reopen", id)
		}
	}
	// Ids keep counting from where they were.
	if id := record(t, db, bounce("new@example.com", "soft", day(40))); id != n+1 {
		t.Errorf("next id %d, want %d", id, n+1)
	}
}
