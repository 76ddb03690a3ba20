package crashtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/internal/pgtest"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestCrashLosesNothingPostgres is TestCrashLosesNothing with the server
// on PostgreSQL (a throwaway cluster from internal/pgtest, a database of
// its own): the same load, kills and checks, made through the store
// contract; only bbolt's file check has no counterpart. The cluster
// itself is never killed (it runs without fsync: the server's commits are
// under test, not the disk's), so what a kill leaves is what the killed
// server committed; before each check the test waits until its database
// sessions are gone, so that nothing it sent is still being applied.
// Without PostgreSQL the test skips, saying so, or fails when CI=true.
func TestCrashLosesNothingPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "bouncesink.toml")
	conf := fmt.Sprintf(`[store]
engine = "postgres"
dsn = %q
path = %q

[verp]
keys = [{ id = "k1", secret = "a secret of the crash test, 32 bytes or more" }]
`, dsn, filepath.Join(dir, "data", "bouncesink.db"))
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	crash(t, dir, engine{
		name:  "postgres",
		kills: 20,
		serve: []string{"--config", config},
		// A server's first commit came some 250 ms after it listened
		// (on the loaded 2-core machine; 30 ms on bbolt): a longer
		// window, so that most kills land among commits, some before
		// the first.
		window: time.Second,
		open: func(ctx context.Context) (store.Store, error) {
			return pgstore.Open(ctx, dsn, pgstore.Options{})
		},
		settle:      func(ctx context.Context) error { return sessionsGone(ctx, dsn, time.Minute) },
		afterServer: true,
	})
}

// sessionsGone waits until no session but its own is connected to the
// database of dsn: a killed client's sessions end once PostgreSQL sees
// their sockets closed, after the statement each was running (a COMMIT
// received before the kill still commits).
func sessionsGone(ctx context.Context, dsn string, d time.Duration) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(d)
	for {
		rows, err := conn.Query(ctx, `SELECT pid, coalesce(application_name, ''), coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err != nil {
			return err
		}
		var left []string
		for rows.Next() {
			var pid int
			var app, state, query string
			if err := rows.Scan(&pid, &app, &state, &query); err != nil {
				return err
			}
			left = append(left, fmt.Sprintf("pid %d (%s, %s): %.80s", pid, app, state, query))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%v after the kill, sessions of the killed server are still connected:\n%s", d, strings.Join(left, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
