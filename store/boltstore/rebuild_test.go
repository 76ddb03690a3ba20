package boltstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestOpenDropsUnfinishedRebuild(t *testing.T) {
	db, path := openTest(t, Options{})
	record(t, db, bounce("a@example.com", "hard", t0))
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		stage, err := tx.CreateBucket(bucketRebuild)
		if err != nil {
			return err
		}
		b, err := stage.CreateBucket(bucketRecipients)
		if err != nil {
			return err
		}
		return b.Put([]byte("ghost@example.com"), []byte("{}"))
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
	db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRebuild) != nil {
			t.Error("Open kept the unfinished rebuild")
		}
		return nil
	})
	if _, _, err := db.Recipient(context.Background(), "a@example.com"); err != nil {
		t.Errorf("live data lost: %v", err)
	}
}

func recordMany(t testing.TB, db *DB, msgs []store.Message) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, m := range msgs {
			at := m.Received.UTC().Round(0)
			head, targets, err := prepareHead(messageRecord{Received: at, EnvelopeFrom: m.EnvelopeFrom, EnvelopeTo: m.EnvelopeTo, RawSize: len(m.Raw)}, m.Observations)
			if err != nil {
				return err
			}
			in := recordIn{id: nextID(tx), at: at, head: head, raw: db.compress(m.Raw), rawSize: len(m.Raw), targets: targets, digest: m.Digest}
			if _, err := db.recordTx(tx, nil, in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkFile(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A Rebuild, finished or failed, leaves a file that bbolt's check passes
// and no staging bucket behind (the conformance suite checks what the
// store answers; this checks the file).
func TestRebuildLeavesAConsistentFile(t *testing.T) {
	db, _ := openTest(t, Options{})
	var msgs []store.Message
	for i := range 300 {
		msgs = append(msgs, bounce(fmt.Sprintf("u%d@example.com", i%17), "hard", day(float64(i)/10)))
	}
	recordMany(t, db, msgs)
	boom := errors.New("classifier exploded")
	_, err := db.Rebuild(context.Background(), func(m store.StoredMessage) ([]store.Observation, error) {
		if m.ID == 250 {
			return nil, boom
		}
		return m.Observations, nil
	}, store.RebuildOptions{ChunkMessages: 50})
	if !errors.Is(err, boom) {
		t.Fatalf("Rebuild: %v, want %v", err, boom)
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRebuild) != nil {
			t.Error("the staging bucket was left behind")
		}
		return nil
	})
	checkFile(t, db)
	if _, err := db.Rebuild(context.Background(), func(m store.StoredMessage) ([]store.Observation, error) {
		return m.Observations, nil
	}, store.RebuildOptions{ChunkMessages: 50}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, db)
}
