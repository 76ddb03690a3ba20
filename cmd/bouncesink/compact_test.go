package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// bouncesink compact rewrites a stopped server's database in place and
// refuses one that a server holds.
func TestCompactCommand(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "bouncesink.db")
	db, err := boltstore.Open(dbPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Record(ctx, store.Message{Received: time.Now(), Raw: []byte("Subject: x\r\n\r\nx\r\n"),
		Observations: []store.Observation{{Recipient: "bob@example.net", Class: "complaint"}}}); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"compact", "--db", dbPath}, nil, &stdout, &stderr); code != 1 {
		t.Errorf("compact of an open store: exit %d, want 1; %s", code, stderr.String())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := dispatch([]string{"compact", "--db", dbPath}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("compact: exit %d: %s", code, stderr.String())
	}
	if !regexp.MustCompile(`^compacted .*bouncesink.db in [0-9.]+s: [0-9.]+ [km]B -> [0-9.]+ [km]B\n$`).MatchString(stdout.String()) {
		t.Errorf("compact said %q", stdout.String())
	}
	db, err = boltstore.Open(dbPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Suppression(ctx, "bob@example.net"); err != nil {
		t.Errorf("after compact: %v", err)
	}
}

// compact is for the bbolt file: a PostgreSQL store is refused, saying what
// to do instead.
func TestCompactRefusesPostgres(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bouncesink.toml")
	toml := "[store]\nengine = \"postgres\"\ndsn = \"postgres://bouncesink@127.0.0.1:1/bouncesink\"\n[verp]\nkey_file = \"" +
		filepath.Join(t.TempDir(), "verp.keys") + "\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"compact", "--config", cfg}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "VACUUM FULL") {
		t.Errorf("compact of a PostgreSQL store: exit %d, %q", code, stderr.String())
	}
}
