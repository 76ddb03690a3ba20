package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/storetest"
)

// TestConformance runs the store contract's suite against the bbolt
// engine. Its files skip the fsync: durability is the crash test's
// subject (internal/crashtest), and thousands of fsyncs would make this
// one slow.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Dedupe: true, New: func(t testing.TB) storetest.Opener {
		path := filepath.Join(t.TempDir(), "bouncesink.db")
		return func(o storetest.Options) (store.Store, error) {
			db, err := Open(path, Options{Policy: o.Policy, Now: o.Now})
			if err != nil {
				return nil, err
			}
			db.bolt.NoSync = true
			return db, nil
		}
	}})
}
