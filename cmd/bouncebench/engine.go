package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bouncesink/bouncesink/internal/pgtest"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
	"github.com/bouncesink/bouncesink/store/pgstore"
)

// A --db names a store: a bbolt file's path, or postgres:DSN for the
// PostgreSQL engine.
const pgPrefix = "postgres:"

func openBenchStore(spec string) (store.Store, error) {
	if dsn, ok := strings.CutPrefix(spec, pgPrefix); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgstore.Open(ctx, dsn, pgstore.Options{})
	}
	return boltstore.Open(spec, boltstore.Options{})
}

// benchCommits returns what counts a store's group commits and the
// messages they carried: the bbolt engine's Commits, the postgres
// engine's metrics.
func benchCommits(db store.Store) (interface{ Commits() (int64, int64) }, bool) {
	switch d := db.(type) {
	case interface{ Commits() (int64, int64) }:
		return d, true
	case *pgstore.DB:
		return pgCommits{d}, true
	}
	return nil, false
}

type pgCommits struct{ db *pgstore.DB }

func (p pgCommits) Commits() (transactions, writers int64) {
	c, m, _ := p.db.Metrics().Commits()
	return int64(c), int64(m)
}

// engineOf names the engine of a --db.
func engineOf(spec string) string {
	if strings.HasPrefix(spec, pgPrefix) {
		return "postgres"
	}
	return "bbolt"
}

// cmdPostgres runs a throwaway PostgreSQL server for the other commands'
// --db postgres:DSN, until interrupted: Debian's initdb and pg_ctl, a data
// directory of its own, fsync on as in production.
func cmdPostgres(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("postgres", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "`directory` for the data (default: a new one in the temporary directory, removed at the end)")
	var settings multiFlag
	fs.Var(&settings, "c", "a server `setting` name=value (repeatable), e.g. -c shared_buffers=1GB")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	keep := *dir != ""
	if !keep {
		d, err := os.MkdirTemp("", "bouncebench-pg-")
		if err != nil {
			fmt.Fprintln(stderr, "bouncebench postgres:", err)
			return 1
		}
		*dir = d
		defer os.RemoveAll(d)
	}
	c, err := pgtest.Start(*dir, pgtest.Options{Durable: true, Settings: settings})
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench postgres:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s%s\n", pgPrefix, c.DSN())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(stderr, "bouncebench postgres:", err)
		return 1
	}
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
