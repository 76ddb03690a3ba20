package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	bolt "go.etcd.io/bbolt"
)

// A full disk must cost nothing acknowledged and leave nothing half
// written: bounces get 451 4.3.0 (the sending MTA retries), the API keeps
// answering, and once there is room again bounces are accepted again.
//
// The test fills a real filesystem: a small tmpfs mounted for the test when
// it may mount (root in CI), else a file size limit (RLIMIT_FSIZE) set in a
// child process, so the database file cannot grow.
func TestDiskFull(t *testing.T) {
	if dir := os.Getenv("BOUNCESINK_FSIZE_CHILD"); dir != "" {
		diskFullUnderFileSizeLimit(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("fills a filesystem")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err == nil {
		t.Cleanup(func() { syscall.Unmount(dir, 0) })
		t.Log("filling a 4 MiB tmpfs")
		filler := filepath.Join(dir, "filler")
		diskFullScenario(t, dir, "disk full", func() { fillUp(t, filler) }, func() { os.Remove(filler) })
		return
	} else {
		t.Logf("cannot mount a tmpfs (%v); using RLIMIT_FSIZE in a child process", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFull$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "BOUNCESINK_FSIZE_CHILD="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("child process:\n%s", out)
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skip("neither a tmpfs nor RLIMIT_FSIZE is available")
	}
}

// fillUp writes path until the filesystem has no room left.
func fillUp(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

func diskFullUnderFileSizeLimit(t *testing.T, dir string) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails with EFBIG instead of killing us
	db := filepath.Join(dir, "data", "bouncesink.db")
	setLimit := func(n uint64) {
		l := lim
		l.Cur = n
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &l); err != nil {
			t.Skipf("setrlimit: %v", err)
		}
	}
	diskFullScenario(t, dir, "file size limit reached", func() {
		fi, err := os.Stat(db)
		if err != nil {
			t.Fatal(err)
		}
		setLimit(uint64(fi.Size())) // the database cannot grow
	}, func() { setLimit(lim.Cur) })
}

// diskFullScenario runs a server with its database in dir, calls fill, and
// sends bounces until the disk refuses one; then checks the refusal, the
// API, what was stored, and that after free bounces are accepted again.
// fullReason is what /healthz should name.
func diskFullScenario(t *testing.T, dir, fullReason string, fill, free func()) {
	cfg := testConfig(t)
	cfg.Store.Path = filepath.Join(dir, "data", "bouncesink.db")
	ts := startServer(t, cfg, runOptions{})
	bounceTo := func(i int) (string, error) {
		to := fmt.Sprintf("user%d@example.org", i)
		msg := fixture(t, userUnknown, "alice@example.org", to)
		// Incompressible padding, so every message costs the store real room.
		pad := make([]byte, 48<<10)
		rand.Read(pad)
		for b64 := base64.StdEncoding.EncodeToString(pad); b64 != ""; b64 = b64[min(76, len(b64)):] {
			msg = append(msg, "\n"+b64[:min(76, len(b64))]...)
		}
		c := dialSMTP(t, ts.smtp)
		defer c.Close()
		return to, send(c, "", returnPath(to), msg)
	}
	if _, err := bounceTo(0); err != nil {
		t.Fatalf("before the disk fills: %v", err)
	}
	fill()

	acked := []string{"user0@example.org"}
	refused := ""
	for i := 1; i < 500 && refused == ""; i++ {
		to, err := bounceTo(i)
		switch {
		case err == nil:
			acked = append(acked, to)
		default:
			wantSMTPError(t, err, 451, smtp.EnhancedCode{4, 3, 0})
			refused = to
		}
	}
	if refused == "" {
		t.Fatal("500 bounces on a full disk were all acknowledged")
	}
	t.Logf("%d bounces acknowledged, then %s refused with 451 4.3.0", len(acked), refused)

	// Reads go on; /healthz says the store no longer writes, and why.
	var health map[string]string
	if code := getJSON(t, ts.http+"/healthz", &health); code != 503 || health["status"] != "degraded" ||
		!strings.Contains(health["error"], fullReason) {
		t.Errorf("GET /healthz on a full disk = %d %v, want 503 degraded, %s", code, health, fullReason)
	}
	for _, addr := range acked {
		recipient(t, ts, addr)
	}
	if code := getJSON(t, ts.http+"/v1/recipients/"+refused, nil); code != 404 {
		t.Errorf("the refused bounce left a record (GET = %d)", code)
	}

	// Room again: the MTA's retry is accepted.
	free()
	c := dialSMTP(t, ts.smtp)
	retry := fixture(t, userUnknown, "alice@example.org", refused)
	if err := send(c, "", returnPath(refused), retry); err != nil {
		t.Fatalf("retry once there is room: %v", err)
	}
	c.Quit()
	if got := recipient(t, ts, refused); len(got.Events) != 1 {
		t.Errorf("%s after the retry: %d events, want 1", refused, len(got.Events))
	}
	if code := getJSON(t, ts.http+"/healthz", &health); code != 200 {
		t.Errorf("GET /healthz once there is room = %d %v, want 200", code, health)
	}

	// The file is whole.
	ts.stop(t)
	db, err := bolt.Open(cfg.Store.Path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("database check after the disk filled: %v", err)
	}
}
