package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/smtpd"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// cmdRetention measures what a stored bounce costs once the default
// retention applies: it records --days of generated bounces (classified
// as the sink classifies them), prunes as bouncesink serve does at the
// end of the last day, and prints the bytes in use per bounce, with and
// without its raw message.
func cmdRetention(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(stderr)
	days := fs.Int("days", 100, "days of bounces, the last one ending now")
	perDay := fs.Int("per-day", 1000, "bounces a day; each recipient bounces about 3 times over the whole run")
	dbPath := fs.String("db", "", "database `path` (default: a new one in a temporary directory, removed afterwards)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *days <= 0 || *perDay <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "bouncebench retention: want positive --days and --per-day")
		return 2
	}
	path := *dbPath
	if path == "" {
		dir, err := os.MkdirTemp("", "bouncebench-")
		if err != nil {
			fmt.Fprintln(stderr, "bouncebench retention:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "bouncesink.db")
	}
	r := store.DefaultRetention()
	fmt.Fprintf(stdout, "bouncebench retention: %d days of %d bounces, retention %+v, %s\n", *days, *perDay, r, machine())
	start := time.Now()
	st, err := recordDays(path, *days, *perDay, r)
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench retention:", err)
		return 1
	}
	fmt.Fprintf(stdout, "recorded and pruned in %.0fs: %d messages, %d recipients, %d events left; pruned %d raw messages (%.0f MB), %d events\n",
		time.Since(start).Seconds(), st.stats.Messages, st.stats.Recipients, st.stats.Events,
		st.pruned.RawMessages, float64(st.pruned.RawBytes)/1e6, st.pruned.Events)
	if err := reportFile(stdout, path); err != nil {
		fmt.Fprintln(stderr, "bouncebench retention:", err)
		return 1
	}
	use, err := bucketBytes(path)
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench retention:", err)
		return 1
	}
	// The raw messages recorded since the journal are in its segments.
	_, segs := segmentBytes(path)
	use["raw"] += int(segs)
	total := 0
	for _, n := range use {
		total += n
	}
	msgs := st.stats.Messages
	withRaw := msgs - st.pruned.RawMessages
	rest := float64(total-use["raw"]) / float64(msgs)
	fmt.Fprintf(stdout, "bytes in use per stored bounce: %.0f (all %d); %.0f once its raw message is pruned, %.0f while it is kept (raw %.0f of it)\n",
		float64(total)/float64(msgs), msgs, rest, rest+float64(use["raw"])/float64(max(withRaw, 1)), float64(use["raw"])/float64(max(withRaw, 1)))
	cs, err := boltstore.Compact(path, 0)
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench retention:", err)
		return 1
	}
	fmt.Fprintf(stdout, "file and segments: %.1f MB, %.1f MB after bouncesink compact (%.0f bytes per stored bounce)\n",
		float64(cs.Before+segs)/1e6, float64(cs.After+segs)/1e6, float64(cs.After+segs)/float64(msgs))
	return 0
}

type retentionResult struct {
	stats  store.Stats
	pruned store.PruneStats
}

// recordDays records days of bounces a day at a time, from 50 goroutines,
// then prunes with r at the end of the last day.
func recordDays(path string, days, perDay int, r store.Retention) (retentionResult, error) {
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return retentionResult{}, err
	}
	defer s.Close()
	ctx := context.Background()
	sink := &ingest.Sink{Store: s, VERPSeparator: smtpd.DefaultVERPSeparator}
	end := time.Now()
	first := end.AddDate(0, 0, -days)
	pool := max(days*perDay/3, 1)
	for d := range days {
		var (
			next     atomic.Int64
			wg       sync.WaitGroup
			mu       sync.Mutex
			firstErr error
		)
		for range 50 {
			wg.Go(func() {
				for {
					j := int(next.Add(1) - 1)
					if j >= perDay {
						return
					}
					i := d*perDay + j
					rcpt := fmt.Sprintf("r%07d@example.org", (i*7919)%pool)
					rp := bouncegen.VERP(rcpt, "localhost")
					at := first.AddDate(0, 0, d).Add(time.Duration(j) * 24 * time.Hour / time.Duration(perDay))
					raw := bouncegen.Message(bouncegen.Mixed(i), rcpt, rp, i, at)
					env := ingest.Envelope{To: []string{rp}}
					m := store.Message{Received: at, EnvelopeTo: env.To, Raw: raw, Observations: sink.Observe(env, raw, at)}
					if _, err := s.Record(ctx, m); err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return retentionResult{}, firstErr
		}
	}
	var res retentionResult
	if res.pruned, err = s.Prune(ctx, r, end); err != nil {
		return retentionResult{}, err
	}
	if res.stats, err = s.Stats(ctx); err != nil {
		return retentionResult{}, err
	}
	return res, s.Close()
}

// bucketBytes returns the bytes each top-level bucket's pages take.
func bucketBytes(path string) (map[string]int, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	use := map[string]int{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			use[string(name)] = st.BranchAlloc + st.LeafAlloc
			return nil
		})
	})
	return use, err
}
