package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/store"
)

// cmdReclassify re-runs the current classifier over every stored raw
// message and rebuilds recipient state, history and policy suppressions
// from the new verdicts; manual suppressions and lifts are kept. It is how
// a rule fix reaches addresses suppressed by the old rule. The server must
// be stopped: the database file is locked while it runs.
func cmdReclassify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reclassify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink reclassify [--config FILE] [--db PATH] [--quiet]\n"+
			"Stop the server first: the database is locked while it runs.")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "TOML config `file`; built-in defaults without it")
	dbPath := fs.String("db", "", "database `path`, overriding [store] path (default ./data/bouncesink.db)")
	quiet := fs.Bool("quiet", false, "no progress, only the summary")
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
	if cfg.Store.Engine != enginePostgres {
		if _, err := os.Stat(cfg.Store.Path); err != nil {
			fmt.Fprintln(stderr, "bouncesink reclassify:", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := newProgress(stderr, *quiet)
	stats, err := reclassify(ctx, cfg, progress.update)
	progress.done()
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink reclassify:", err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "interrupted: the store is unchanged")
		}
		return 1
	}
	printRebuild(stdout, stats)
	return 0
}

// reclassify opens the store and rebuilds it through the same ingestion
// pipeline serve uses.
func reclassify(ctx context.Context, cfg Config, progress func(done, total int)) (store.RebuildStats, error) {
	db, err := openStore(cfg.Store, cfg.policy())
	if err != nil {
		return store.RebuildStats{}, err
	}
	defer db.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	signer, err := cfg.keySigner(false, quiet)
	if err != nil {
		return store.RebuildStats{}, err
	}
	sink := newSink(cfg, db, signer, nil, quiet)
	return db.Rebuild(ctx, func(m store.StoredMessage) ([]store.Observation, error) {
		env := ingest.Envelope{From: m.EnvelopeFrom, To: m.EnvelopeTo, ID: fmt.Sprint(m.ID)}
		return sink.Observe(env, m.Raw, m.Received), nil
	}, store.RebuildOptions{Progress: progress})
}

func printRebuild(w io.Writer, s store.RebuildStats) {
	fmt.Fprintf(w, "reclassified %d messages (%d verdicts, %d admin actions kept) for %d recipients\n",
		s.Messages, s.Observations, s.AdminActions, s.Recipients)
	fmt.Fprintf(w, "could not re-read %d messages: their raw bytes were pruned (see [retention]); their stored verdicts were replayed as they are\n",
		s.NotReread)
	fmt.Fprintf(w, "suppressed: %d before, %d after (%d added, %d removed, %d changed reason)\n",
		s.SuppressedBefore, s.SuppressedAfter, s.Added, s.Removed, s.Changed)
	for _, c := range s.Changes {
		fmt.Fprintf(w, "  %s: %s -> %s\n", c.Address, describeSuppression(c.Before), describeSuppression(c.After))
	}
	if shown := len(s.Changes); shown < s.Added+s.Removed+s.Changed {
		fmt.Fprintf(w, "  (%d more changes not listed)\n", s.Added+s.Removed+s.Changed-shown)
	}
}

func describeSuppression(s *store.Suppression) string {
	if s == nil {
		return "not suppressed"
	}
	return fmt.Sprintf("suppressed (%s %s)", s.Reason, s.Detail)
}

// progress prints "done/total" on one line, rewritten at most a few times
// a second, so a store of millions of messages shows it is moving.
type progress struct {
	w     io.Writer
	quiet bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, quiet bool) *progress { return &progress{w: w, quiet: quiet} }

func (p *progress) update(done, total int) {
	if p.quiet || (time.Since(p.last) < 200*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(p.w, "\rreclassify: %d/%d messages (%.0f%%)", done, total, pct)
	p.shown = true
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
