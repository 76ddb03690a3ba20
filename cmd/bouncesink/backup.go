package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// cmdBackup writes a consistent copy of the database to FILE: by default
// from a running server (GET /v1/backup; bbolt's file is locked while it
// runs), with --db straight from a file no server holds. The copy is
// written beside FILE, synced, checked page by page as "bbolt check" does,
// and only then renamed to FILE, so FILE is always a whole backup.
func cmdBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink backup [--api URL | --db PATH] [--token TOKEN] FILE\n"+
			"Writes a consistent copy of the bbolt database to FILE, from a running server or a database file.")
		fs.PrintDefaults()
	}
	apiURL := fs.String("api", defaultAPI, "base `URL` of a running server's HTTP API")
	dbPath := fs.String("db", "", "copy this database `file` instead of asking a server (stop the server first)")
	token := fs.String("token", "", "bearer `token` of an admin (default $BOUNCESINK_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, size, err := backup(ctx, fs.Arg(0), func(w io.Writer) (int64, error) {
		if *dbPath != "" {
			return backupDB(ctx, *dbPath, w)
		}
		return backupAPI(ctx, *apiURL, tokenOr(*token), w)
	})
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d bytes, checked: %d messages, %d recipients, %d suppressed\n",
		fs.Arg(0), size, st.Messages, st.Recipients, st.Suppressed)
	return 0
}

// backup has copy write the database into a private file beside path,
// syncs and checks it, and renames it to path.
func backup(ctx context.Context, path string, copy func(io.Writer) (int64, error)) (store.Stats, int64, error) {
	tmp := path + ".partial"
	f, err := createPrivate(tmp)
	if err != nil {
		return store.Stats{}, 0, err
	}
	n, err := copy(f)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		var st store.Stats
		if st, err = boltstore.CheckFile(tmp); err == nil {
			if err = os.Rename(tmp, path); err == nil {
				syncDir(filepath.Dir(path))
				return st, n, nil
			}
		}
		err = fmt.Errorf("the copy does not check out, not kept: %w", err)
	}
	os.Remove(tmp)
	return store.Stats{}, 0, err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func backupDB(ctx context.Context, path string, w io.Writer) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := openStore(StoreConfig{Path: path}, store.Policy{})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return 0, fmt.Errorf("%w; while a server runs, back up through it (without --db)", err)
		}
		return 0, err
	}
	defer db.Close()
	b, ok := db.(store.Backuper)
	if !ok {
		return 0, errors.New("this store engine is backed up with its own tools")
	}
	cw := &countWriter{w: w}
	err = b.Backup(ctx, func(int64) io.Writer { return cw })
	return cw.n, err
}

func backupAPI(ctx context.Context, base, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := doAPI(req, token)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body) // a body cut short of its Content-Length is an error
	if err != nil {
		return n, fmt.Errorf("reading the backup: %w", err)
	}
	return n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
