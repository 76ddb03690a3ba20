package boltstore

import (
	"context"
	"github.com/bouncesink/bouncesink/store"
	bolt "go.etcd.io/bbolt"
	"path/filepath"
	"testing"
	"time"
)

// t0 is an arbitrary receipt time; tests count days from it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func day(n float64) time.Time { return t0.Add(time.Duration(n * 24 * float64(time.Hour))) }

// openTest opens a store in a fresh directory, closed when the test ends.
func openTest(t testing.TB, opts Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "bouncesink.db")
	db, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// bounce is a message with one observation of class for addr.
func bounce(addr, class string, at time.Time) store.Message {
	return store.Message{
		Received:     at,
		EnvelopeFrom: "",
		EnvelopeTo:   []string{"bounces@bounce.example.com"},
		Raw:          []byte("Subject: Undelivered Mail Returned to Sender\r\n\r\n" + addr + " " + class + "\r\n"),
		Observations: []store.Observation{{Recipient: addr, Class: class, Reason: class + "-reason", Status: "5.1.1"}},
	}
}

func record(t testing.TB, db *DB, m store.Message) uint64 {
	t.Helper()
	id, err := db.Record(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	db.catchUp() // these tests read bbolt directly: wait for the journal's apply
	return id
}

// recordInline records m as files written before the journal did, with
// its raw bytes in bucketRaw, in a transaction of its own.
func recordInline(t testing.TB, db *DB, m store.Message) uint64 {
	t.Helper()
	at := m.Received.UTC()
	head, targets, err := prepareHead(messageRecord{Received: at, RawSize: len(m.Raw)}, m.Observations)
	if err != nil {
		t.Fatal(err)
	}
	var id uint64
	err = db.update(func(tx *bolt.Tx) error {
		id = nextID(tx)
		_, err = db.recordTx(tx, nil, recordIn{id: id, at: at, head: head, raw: db.compress(m.Raw), rawSize: len(m.Raw), targets: targets, digest: m.Digest})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// nextID is the id after the last message tx holds, as the journal would
// give it to a message recorded in tx.
func nextID(tx *bolt.Tx) uint64 { return tx.Bucket(bucketMessages).Sequence() + 1 }
