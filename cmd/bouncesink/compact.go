package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bouncesink/bouncesink/store/boltstore"
)

// cmdCompact rewrites the database file without its free pages and puts
// it in place of the old one (boltstore.Compact). Pruning frees pages that
// later writes reuse, so the file stops growing but does not shrink; this
// gives the space back. The server must be stopped.
func cmdCompact(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink compact [--config FILE] [--db PATH]\n"+
			"Stop the server first. It needs free disk space for a copy of the live data.")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "TOML config `file`; built-in defaults without it")
	dbPath := fs.String("db", "", "database `path`, overriding [store] path (default ./data/bouncesink.db)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := configure(*configPath, func(c *Config) { override(&c.Store.Path, *dbPath) }, stderr)
	if !ok {
		return 2
	}
	if cfg.Store.Engine == enginePostgres {
		fmt.Fprintln(stderr, "bouncesink compact: the store is PostgreSQL, whose autovacuum reuses the space pruning frees; "+
			"VACUUM FULL gives it back to the file system (it locks the tables while it runs)")
		return 2
	}
	if _, err := os.Stat(cfg.Store.Path); err != nil {
		fmt.Fprintln(stderr, "bouncesink compact:", err)
		return 2
	}
	st, err := boltstore.Compact(cfg.Store.Path, 0)
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink compact:", err)
		return 1
	}
	fmt.Fprintf(stdout, "compacted %s in %.1fs: %s -> %s\n", cfg.Store.Path, st.Took.Seconds(), size(st.Before), size(st.After))
	return 0
}

// size prints a file size in MB, or kB under 10 MB.
func size(n int64) string {
	if n < 10e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
