package boltstore

import (
	"context"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// A file written before the reason and detail indexes gets them at Open.
func TestSortIndexesBuiltForOldFiles(t *testing.T) {
	db, path := openTest(t, Options{})
	var list []store.ManualSuppression
	for i := range 300 {
		list = append(list, store.ManualSuppression{Address: fmt.Sprintf("p%03d@example.org", i),
			Reason: []string{"manual", "import"}[i%2], Detail: fmt.Sprint(i % 7)})
	}
	if _, err := db.SuppressMany(context.Background(), "test", list); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketByReason, bucketByDetail} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keySortIndexed)
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, sort := range []string{store.SortReason, store.SortDetail} {
		page, total, err := db.QuerySuppressions(context.Background(), store.SuppressionQuery{Sort: sort, Limit: store.MaxListPage})
		if err != nil || total != len(list) || len(page) != len(list) {
			t.Errorf("sorted by %s after reopening: %d of %d rows (%v), want %d", sort, len(page), total, err, len(list))
		}
	}
}
