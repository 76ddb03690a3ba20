package boltstore

import (
	"context"
	"github.com/bouncesink/bouncesink/store"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenIndexesOldFiles(t *testing.T) {
	now := day(5)
	db, path := openTest(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	record(t, db, bounce("x@example.com", "hard", day(4)))
	record(t, db, bounce("x@example.com", "hard", day(5)))
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketBySince, bucketCounters} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyIndexed)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list, _, err := db.ListSuppressions(ctx, store.SuppressionFilter{}, "", 0)
	if err != nil || len(list) != 1 {
		t.Errorf("list after reopening: %+v, %v", list, err)
	}
	act, err := db.Activity(ctx, store.ActivityOptions{})
	if err != nil || act.Windows[2].ByClass["hard"] != 2 {
		t.Errorf("activity after reopening: %+v, %v", act.Windows, err)
	}
}
