package boltstore

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Writers that fail or panic get their own error; the others in the same
// group are committed, every one exactly once.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	b, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("k")); return err }); err != nil {
		t.Fatal(err)
	}
	g := &groupCommit{db: b}
	errBad := errors.New("bad writer")
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = g.do(func(tx *bolt.Tx) error {
				switch i % 10 {
				case 3:
					return errBad
				case 7:
					panic("writer panicked")
				}
				bk := tx.Bucket([]byte("k"))
				id, _ := bk.NextSequence()
				_ = id
				return bk.Put([]byte{byte(i), byte(i >> 8)}, []byte("v"))
			})
		}(i)
	}
	wg.Wait()
	stored := 0
	_ = b.View(func(tx *bolt.Tx) error { stored = tx.Bucket([]byte("k")).Stats().KeyN; return nil })
	for i, err := range errs {
		switch i % 10 {
		case 3:
			if !errors.Is(err, errBad) {
				t.Errorf("writer %d: err = %v, want its own error", i, err)
			}
		case 7:
			if err == nil {
				t.Errorf("writer %d panicked but got no error", i)
			}
		default:
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
	}
	if want := n - 2*n/10; stored != want {
		t.Errorf("stored %d keys, want %d", stored, want)
	}
}
