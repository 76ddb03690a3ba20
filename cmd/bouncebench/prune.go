package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// pruneRunner serves /debug/bench/prune on the bench server: POST starts
// one Prune with the default retention, in the background; GET says
// whether it runs and what it did.
type pruneRunner struct {
	db      store.Pruner
	mu      sync.Mutex
	running bool
	last    pruneReport
}

// pruneReport is the answer of GET /debug/bench/prune.
type pruneReport struct {
	Running bool             `json:"running"`
	Stats   store.PruneStats `json:"stats"`
	Error   string           `json:"error,omitempty"`
	Took    time.Duration    `json:"took"`
}

func (p *pruneRunner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		if !p.running {
			p.running = true
			go p.run()
		}
	case http.MethodGet:
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	rep := p.last
	rep.Running = p.running
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

func (p *pruneRunner) run() {
	start := time.Now()
	st, err := p.db.Prune(context.Background(), store.DefaultRetention(), time.Now())
	rep := pruneReport{Stats: st, Took: time.Since(start)}
	if err != nil {
		rep.Error = err.Error()
	}
	p.mu.Lock()
	p.last, p.running = rep, false
	p.mu.Unlock()
}

// cmdPrune measures the SMTP replies while the retention prunes a store
// of expired raw messages: the p99 of a load with nothing to prune, then
// of the same load while the server prunes them all.
func cmdPrune(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "a store of expired messages, filled first if the file does not exist; each round works on a copy")
	n := fs.Int("n", 1_000_000, "expired messages (received 100 days ago) to fill a new store with")
	load := fs.Int("load", 20000, "messages of the idle load; the load while pruning runs until the prune is done")
	c := fs.Int("c", 50, "concurrent SMTP connections")
	rounds := fs.Int("rounds", 1, "rounds, each on a fresh copy of the store")
	var server serverFlags
	server.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *db == "" || *n <= 0 || *load <= 0 || *c <= 0 || *rounds <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "bouncebench prune: want --db PATH and positive -n, --load, -c, --rounds")
		return 2
	}
	fmt.Fprintf(stdout, "bouncebench prune: %s\n", machine())
	if _, err := os.Stat(*db); errors.Is(err, os.ErrNotExist) {
		start := time.Now()
		if err := fillExpired(*db, *n, func(done int) { fmt.Fprintf(stdout, "  %d expired messages\n", done) }); err != nil {
			fmt.Fprintln(stderr, "bouncebench prune:", err)
			return 1
		}
		fmt.Fprintf(stdout, "filled %s with %d messages received 100 days ago in %.0fs\n", *db, *n, time.Since(start).Seconds())
	}
	var ratios []float64
	for round := range *rounds {
		r, err := pruneRound(stdout, *db, *load, *c, &server)
		if err != nil {
			fmt.Fprintf(stderr, "bouncebench prune: round %d: %v\n", round+1, err)
			return 1
		}
		ratios = append(ratios, r)
	}
	if len(ratios) > 1 {
		fmt.Fprintf(stdout, "p99 while pruning / p99 idle over %d rounds: %s (target < 2)\n", len(ratios), spread(ratios))
	}
	return 0
}

// pruneRound loads a copy of the store idle, then while it prunes, and
// returns the ratio of the two p99s.
func pruneRound(stdout io.Writer, pristine string, load, c int, server *serverFlags) (float64, error) {
	dir, err := os.MkdirTemp(filepath.Dir(pristine), "bouncebench-prune-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	work := filepath.Join(dir, "bouncesink.db")
	if err := copyStore(pristine, work); err != nil {
		return 0, err
	}
	t, err := server.start(serveOptions{DB: work})
	if err != nil {
		return 0, err
	}
	defer t.stop()
	fmt.Fprintf(stdout, "== %s, on a copy of %s (load average %s)\n", t.desc, pristine, loadavg())

	rcpt := func(prefix string) func(int) string { return func(i int) string { return rcptOf(prefix, i) } }
	if w := sendBounces(t.smtp, "localhost", rcpt("warm"), 1000, c); w.ok == 0 {
		return 0, fmt.Errorf("warm-up: %v", w.firstErr)
	}
	idle := sendBounces(t.smtp, "localhost", rcpt("idle"), load, c)
	if idle.failed > 0 {
		return 0, fmt.Errorf("idle load: %d failed: %v", idle.failed, idle.firstErr)
	}
	fmt.Fprintf(stdout, "   idle: %d messages, %.0f msg/s; latency %s\n", idle.ok, float64(idle.ok)/idle.elapsed.Seconds(), idle.lat.summary())

	if _, err := prunePost(t.http, http.MethodPost); err != nil {
		return 0, err
	}
	var (
		busy    latencies
		sent    int
		elapsed time.Duration
		rep     pruneReport
	)
	for chunk := 0; ; chunk++ {
		r := sendBounces(t.smtp, "localhost", rcpt(fmt.Sprintf("busy%d", chunk)), 2000, c)
		if r.failed > 0 {
			return 0, fmt.Errorf("load while pruning: %d failed: %v", r.failed, r.firstErr)
		}
		busy = append(busy, r.lat...)
		sent += r.ok
		elapsed += r.elapsed
		if rep, err = prunePost(t.http, http.MethodGet); err != nil {
			return 0, err
		}
		if !rep.Running {
			break
		}
	}
	if rep.Error != "" {
		return 0, fmt.Errorf("prune: %s", rep.Error)
	}
	fmt.Fprintf(stdout, "   pruned %d raw messages (%.0f MB stored) in %.1fs; meanwhile %d messages, %.0f msg/s; latency %s\n",
		rep.Stats.RawMessages, float64(rep.Stats.RawBytes)/1e6, rep.Took.Seconds(), sent, float64(sent)/elapsed.Seconds(), busy.summary())
	ratio := float64(busy.percentile(0.99)) / float64(idle.lat.percentile(0.99))
	fmt.Fprintf(stdout, "p99 while pruning / p99 idle: %.2f (target < 2)\n", ratio)
	if err := t.stop(); err != nil {
		return 0, err
	}
	if fi, err := os.Stat(work); err == nil {
		fmt.Fprintf(stdout, "   the file: %.0f MB (freed pages are reused by later writes; bouncesink compact gives them back)\n", float64(fi.Size())/1e6)
	}
	return ratio, nil
}

func prunePost(httpAddr, method string) (pruneReport, error) {
	req, err := http.NewRequest(method, "http://"+httpAddr+"/debug/bench/prune", nil)
	if err != nil {
		return pruneReport{}, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return pruneReport{}, err
	}
	defer resp.Body.Close()
	var rep pruneReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return pruneReport{}, fmt.Errorf("%s /debug/bench/prune: %s: %w", method, resp.Status, err)
	}
	return rep, nil
}

// fillExpired records n generated bounces received 100 days ago, each
// naming a recipient of its own, from 50 goroutines (so that the group
// commit merges them).
func fillExpired(path string, n int, progress func(done int)) error {
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	old := time.Now().AddDate(0, 0, -100)
	var (
		next, done atomic.Int64
		failed     atomic.Bool
		wg         sync.WaitGroup
		mu         sync.Mutex
		firstErr   error
	)
	for range 50 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() {
					return
				}
				rcpt := fmt.Sprintf("e%07d@example.org", i)
				k := bouncegen.Mixed(i)
				at := old.Add(time.Duration(i) * time.Millisecond)
				m := store.Message{Received: at, EnvelopeTo: []string{bouncegen.VERP(rcpt, "localhost")},
					Raw:          bouncegen.Message(k, rcpt, bouncegen.VERP(rcpt, "localhost"), i, at),
					Observations: []store.Observation{{Recipient: rcpt, Class: k.String(), Reason: k.String(), Decoder: "bouncebench"}}}
				if _, err := s.Record(context.Background(), m); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					failed.Store(true)
					return
				}
				if d := done.Add(1); d%100_000 == 0 && progress != nil {
					mu.Lock()
					progress(int(d))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(firstErr, s.Close())
}

// copyStore copies the bbolt store at from, its file and its journal's
// segments (the raw messages), to to.
func copyStore(from, to string) error {
	if err := copyFile(from, to); err != nil {
		return err
	}
	ents, err := os.ReadDir(from + ".raw")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Mkdir(to+".raw", 0o700); err != nil {
		return err
	}
	for _, e := range ents {
		if err := copyFile(filepath.Join(from+".raw", e.Name()), filepath.Join(to+".raw", e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
