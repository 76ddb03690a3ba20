package boltstore

import (
	"context"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestStatsCountsOldFiles(t *testing.T) {
	db, path := openTest(t, Options{})
	for i := range 20 {
		record(t, db, bounce(fmt.Sprintf("u%d@example.com", i%6), "hard", day(float64(i))))
	}
	want, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Make it look like a file from before: no counters at all.
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		for _, k := range [][]byte{keyCounted, keyEventsBase, []byte("suppressed/hard"), keyRawBytes, keyRawCounted} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketRecipients).SetSequence(0)
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
	got, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || got.Suppressed != 6 || got.RawBytes == 0 {
		t.Errorf("Stats after counting an old file = %+v, want %+v", got, want)
	}
}

func BenchmarkStats(b *testing.B) {
	db, _ := openTest(b, Options{})
	var msgs []store.Message
	for i := range 10_000 {
		msgs = append(msgs, bounce(fmt.Sprintf("user%d@example.com", i%3000), "hard", t0.Add(time.Duration(i)*time.Minute)))
	}
	recordMany(b, db, msgs)
	ctx := context.Background()
	for b.Loop() {
		if _, err := db.Stats(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
