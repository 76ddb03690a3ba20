package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// fillDomains spread the filled recipients over a few domains.
var fillDomains = []string{"example.com", "example.net", "example.org", "mail.example.com",
	"example.co.uk", "example.de", "post.example.fr", "example.jp"}

// fillAddress is the i-th recipient of a filled store. Every tenth one
// (i%10 == 0) is suppressed, by a complaint.
func fillAddress(i int) string { return fmt.Sprintf("r%07d@%s", i, fillDomains[i%len(fillDomains)]) }

func fillSuppressed(i int) bool { return i%10 == 0 }

// fillObservation is what the fill records for recipient i: a complaint
// (suppressed at once by the default policy) or one hard bounce (not yet).
func fillObservation(i int) store.Observation {
	if fillSuppressed(i) {
		return store.Observation{Recipient: fillAddress(i), Class: "complaint", Reason: "feedback",
			FeedbackType: "abuse", Decoder: "arf", Rule: "original-rcpt-to"}
	}
	return store.Observation{Recipient: fillAddress(i), Class: "hard", Reason: "user_unknown",
		Status: "5.1.1", SMTPCode: 550, Action: "failed", Decoder: "rfc3464", Rule: "status-5.1.1",
		Diagnostic: "550 5.1.1 <" + fillAddress(i) + ">: Recipient address rejected: User unknown"}
}

// cmdFill writes recipients straight into a store, through its public
// API: store.Open, then Record of messages each carrying --batch
// observations (one per recipient), from --workers goroutines so that
// the store's group commit also merges their transactions. It is the fast
// path to a store of a million recipients; no server may have the file
// open.
func cmdFill(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "database `path` (created if missing; no server may have it open), or postgres:DSN")
	n := fs.Int("n", 1_000_000, "recipients to write: fillAddress(0) .. fillAddress(n-1), every tenth suppressed")
	batch := fs.Int("batch", 1000, "recipients per recorded message")
	workers := fs.Int("workers", 4, "concurrent Record calls")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *db == "" || *n <= 0 || *batch <= 0 || *workers <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "bouncebench fill: want --db PATH and positive -n, --batch, --workers")
		return 2
	}
	ctx := context.Background()
	s, err := openBenchStore(*db)
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench fill:", err)
		return 1
	}
	start := time.Now()
	err = fill(ctx, s, *n, *batch, *workers, func(done int) {
		fmt.Fprintf(stdout, "  %d recipients, %.0f/s\n", done, float64(done)/time.Since(start).Seconds())
	})
	elapsed := time.Since(start)
	st, serr := s.Stats(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench fill:", err)
		return 1
	}
	fmt.Fprintf(stdout, "filled %s with %d recipients in %.1fs (%.0f/s); the store now holds %d recipients, %d suppressed, %d messages\n",
		*db, *n, elapsed.Seconds(), float64(*n)/elapsed.Seconds(), st.Recipients, st.Suppressed, st.Messages)
	if engineOf(*db) != "bbolt" {
		return 0
	}
	if err := reportFile(stdout, *db); err != nil {
		fmt.Fprintln(stderr, "bouncebench fill:", err)
		return 1
	}
	start = time.Now()
	s, err = openBenchStore(*db)
	if err == nil {
		err = s.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench fill:", err)
		return 1
	}
	fmt.Fprintf(stdout, "opening the store again took %.2fs\n", time.Since(start).Seconds())
	return 0
}

// fill records recipients 0..n-1, batch per message, and calls progress
// about every tenth of the way, one call at a time.
func fill(ctx context.Context, s store.Writer, n, batch, workers int, progress func(done int)) error {
	var (
		next     atomic.Int64
		done     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		now      = time.Now()
		step     = max(n/10, batch)
	)
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(int64(batch)) - int64(batch))
				if lo >= n {
					return
				}
				hi := min(lo+batch, n)
				m := store.Message{
					Received:     now,
					EnvelopeTo:   []string{"bounces@localhost"},
					Raw:          fmt.Appendf(nil, "bouncebench fill: recipients %d to %d\r\n", lo, hi-1),
					Observations: make([]store.Observation, 0, hi-lo),
				}
				for i := lo; i < hi; i++ {
					m.Observations = append(m.Observations, fillObservation(i))
				}
				if _, err := s.Record(ctx, m); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				d := done.Add(int64(hi - lo))
				if progress != nil && int(d)/step != int(d-int64(hi-lo))/step {
					mu.Lock()
					progress(int(d))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
