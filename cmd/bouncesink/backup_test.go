package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/store/boltstore"
)

// bouncesink backup takes a consistent copy through a running server,
// while bounces keep arriving; the copy opens as a database, and a server
// restored from it serves what it holds.
func TestBackupWhileServing(t *testing.T) {
	const adminToken, readToken = testAdminToken, testReadToken
	cfg := testConfig(t)
	cfg.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", Token: adminToken}, {Name: "mailer", Role: "read", Token: readToken}}
	ts := startServer(t, cfg, runOptions{})
	const alice = "alice@example.org"
	bounce(t, ts, returnPath(alice), fixture(t, userUnknown, "", ""))
	bounce(t, ts, returnPath(alice), fixture(t, userUnknown2, "", ""))

	// Bounces go on arriving during the backups.
	msg := fixture(t, userUnknown, "", "")
	var sent atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			to := "user" + string(rune('a'+i%26)) + "@example.org"
			c, err := smtp.Dial(ts.smtp)
			if err != nil {
				continue
			}
			if send(c, "", returnPath(to), nth(msg, i)) == nil {
				sent.Add(1)
			}
			c.Close()
		}
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.db")
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := dispatch(append([]string{"backup", "--api", ts.http}, args...), nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, _, errOut := run("--token", readToken, file); code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("backup with a read token = %d, %q; want 1 and a 403", code, errOut)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a refused backup left a file")
	}
	for range 3 {
		if code, out, errOut := run("--token", adminToken, file); code != 0 || !strings.Contains(out, "checked") {
			t.Fatalf("backup = %d, %q, %q", code, out, errOut)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d bounces acknowledged while the backups ran", sent.Load())
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file %v, %v; want mode 0600", fi, err)
	}
	if _, err := os.Stat(file + ".partial"); err == nil {
		t.Error("the partial file is left behind")
	}
	st, err := boltstore.CheckFile(file)
	if err != nil {
		t.Fatalf("the backup does not check out: %v", err)
	}
	if st.Messages < 2 {
		t.Errorf("the backup holds %d messages, want at least the 2 sent before it", st.Messages)
	}
	// A file no server holds is copied with --db; the running server's is
	// locked, and the error says what to do.
	if code, _, errOut := run("--db", cfg.Store.Path, filepath.Join(dir, "direct.db")); code != 1 || !strings.Contains(errOut, "without --db") {
		t.Errorf("backup --db of the live file = %d, %q", code, errOut)
	}
	ts.stop(t)

	// Restore: the backup in the database's place.
	restored := cfg
	restored.Store.Path = filepath.Join(dir, "restored", "bouncesink.db")
	os.MkdirAll(filepath.Dir(restored.Store.Path), 0o700)
	data, _ := os.ReadFile(file)
	os.WriteFile(restored.Store.Path, data, 0o600)
	restored.HTTP.Tokens = nil
	ts = startServer(t, restored, runOptions{})
	if s, ok := suppressed(t, ts, alice); !ok || s.Reason != "hard" {
		t.Errorf("after the restore: %+v, %v; want alice suppressed", s, ok)
	}
	ts.stop(t)
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"backup", "--db", restored.Store.Path, filepath.Join(dir, "direct.db")}, nil, &stdout, &stderr); code != 0 {
		t.Errorf("backup --db of a stopped server's file = %d, %q", code, stderr.String())
	}
}

// serve on a damaged database says so, with what to do, instead of
// crashing with a goroutine dump.
func TestServeDamagedDatabase(t *testing.T) {
	cfg := testConfig(t)
	ts := startServer(t, cfg, runOptions{})
	for i := range 50 {
		to := "user" + string(rune('a'+i%26)) + "@example.org"
		bounce(t, ts, returnPath(to), nth(fixture(t, userUnknown, "alice@example.org", to), i))
	}
	ts.stop(t)
	fi, err := os.Stat(cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cfg.Store.Path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"serve", "--db", cfg.Store.Path, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"}, nil, &stdout, &stderr)
	out := stderr.String()
	if code != 1 || !strings.Contains(out, "damaged or truncated") || !strings.Contains(out, "Backup and restore") ||
		!strings.Contains(out, "bbolt check") || strings.Contains(out, "goroutine") {
		t.Errorf("serve on a truncated file = %d:\n%s\nwant 1, the damage named, and the advice (backup, bbolt check)", code, out)
	}
}
