package pgstore

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Instances starting together on an empty database apply each migration
// once (the advisory lock), and all come up.
func TestMigrateConcurrently(t *testing.T) {
	dsn := newDSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	dbs := make([]*DB, 4)
	errs := make([]error, 4)
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = Open(ctx, dsn, Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, distinct, top int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations").Scan(&n, &distinct, &top); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) || distinct != n || top != len(migrations) {
		t.Errorf("schema_migrations: %d rows, %d versions, up to %d; want each of the %d once", n, distinct, top, len(migrations))
	}
	// And opening again migrates nothing.
	again, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

// A database a newer build migrated is refused, not misread.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	dsn := newDSN(t)
	ctx := context.Background()
	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES (999)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(ctx, dsn, Options{}); err == nil || !strings.Contains(err.Error(), "999") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open of a schema at version 999: %v, want an error naming it", err)
	}
}
