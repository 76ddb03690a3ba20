package multihost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/internal/pgtest"
	"github.com/bouncesink/bouncesink/internal/testbin"
	"github.com/bouncesink/bouncesink/store/pgstore"
)

// While the database is down, a bounce gets 451 (its sender keeps it and
// tries again) and /healthz 503; once it is back, the same server stores
// bounces again without a restart.
func TestDatabaseDown(t *testing.T) {
	if _, err := pgtest.BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
	dir := t.TempDir()
	pgDir, err := os.MkdirTemp("", "bouncesink-pg-") // the postgres user must reach it: not under t.TempDir
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pgDir)
	cluster, err := pgtest.Start(pgDir, pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	bin := testbin.Bouncesink(t, dir)
	config := filepath.Join(dir, "bouncesink.toml")
	conf := fmt.Sprintf("[store]\nengine = \"postgres\"\ndsn = %q\npath = %q\n\n[verp]\nkeys = [{ id = \"k1\", secret = \"a shared secret of the hosts, 32 bytes or more\" }]\n",
		cluster.DSN(), filepath.Join(dir, "data", "bouncesink.db"))
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	host := launch(t, bin, config, "a")
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	send := func(id int) error {
		rcpt := fmt.Sprintf("down%d@example.org", id)
		verp := bouncegen.VERP(rcpt, "localhost")
		return sendOne(host.smtp, verp, bouncegen.Message(bouncegen.Hard, rcpt, verp, id, at))
	}
	health := func() int {
		resp, err := http.Get("http://" + host.http + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := send(1); err != nil {
		t.Fatalf("with the database up: %v", err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	err = send(2)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Errorf("with the database down: %v, want a 451", err)
	}
	if code := health(); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz with the database down = %d, want 503", code)
	}
	if err := cluster.StartAgain(); err != nil {
		t.Fatal(err)
	}
	// The pool finds out its connections died on using them: the sender's
	// next try (sooner here than a real MTA's) goes through.
	deadline := time.Now().Add(30 * time.Second)
	for err = send(3); err != nil && time.Now().Before(deadline); err = send(3) {
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("with the database back: %v\n%s", err, host.logText())
	}
	if code := health(); code != http.StatusOK {
		t.Errorf("/healthz with the database back = %d", code)
	}
	db, err := pgstore.Open(context.Background(), cluster.DSN(), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, want := range map[int]bool{1: true, 2: false, 3: true} {
		_, _, err := db.Recipient(context.Background(), fmt.Sprintf("down%d@example.org", id))
		if (err == nil) != want {
			t.Errorf("down%d@: stored %v, want %v (%v)", id, err == nil, want, err)
		}
	}
}
