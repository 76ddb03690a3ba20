package pgstore

import (
	"context"
	"testing"

	"github.com/bouncesink/bouncesink/internal/pgtest"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newDSN returns the DSN of a new, empty schema on the test server.
func newDSN(t testing.TB) string {
	t.Helper()
	dsn, err := pgtest.Shared(t).NewSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// TestConformance runs the store contract's suite against a real
// PostgreSQL server, including the tests of several instances sharing one
// database.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Shared: true, Dedupe: true, New: func(t testing.TB) storetest.Opener {
		dsn := newDSN(t)
		return func(o storetest.Options) (store.Store, error) {
			return Open(context.Background(), dsn, Options{Policy: o.Policy, Now: o.Now})
		}
	}})
}
