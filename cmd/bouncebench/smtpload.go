package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/klauspost/compress/s2"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
)

type smtpFlags struct {
	n, c, warmup  int
	target        string
	api           string
	discard       bool
	compare       bool
	sameRecipient bool
	pool          int
	engines       string
	rounds        int
	db            string
	domain        string
	server        serverFlags
}

func cmdSMTP(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("smtp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f smtpFlags
	fs.IntVar(&f.n, "n", 20000, "messages to send (after the warm-up)")
	fs.IntVar(&f.c, "c", 50, "concurrent SMTP connections")
	fs.IntVar(&f.warmup, "warmup", 1000, "messages sent first and not counted")
	fs.StringVar(&f.target, "target", "", "SMTP `address` of a running sink to load instead of starting one")
	fs.StringVar(&f.api, "api", "", "with --target, the sink's HTTP API `address` (host:port), to check that messages were stored")
	fs.BoolVar(&f.discard, "discard", false, "load the discard server instead of the sink")
	fs.BoolVar(&f.compare, "compare", false, "load the discard server, then the sink, and print the ratio of their rates")
	fs.IntVar(&f.pool, "recipients", 0, "load with bounces naming recipients drawn at random from `N` that the warm-up bounced once each (recipients anywhere in the store, as real traffic names them) rather than each a new one, in order; the warm-up is then those N bounces")
	fs.BoolVar(&f.sameRecipient, "same-recipient", false, "load the sink with bounces each naming a recipient of its own, then with bounces all naming one recipient, and print the ratio of their rates and CPU")
	fs.StringVar(&f.engines, "compare-engines", "", "load the sink on a new bbolt file, then on this `postgres:DSN`, and print the ratio of their rates")
	fs.IntVar(&f.rounds, "rounds", 1, "with --compare, --same-recipient or --compare-engines, alternate the two loads this many times (a busy machine shifts single figures)")
	fs.StringVar(&f.db, "db", "", "sink database `path` (default: a new one in a temporary directory, removed afterwards)")
	fs.StringVar(&f.domain, "domain", "localhost", "`domain` of the VERP return paths (the sink must accept it)")
	f.server.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pair := f.compare || f.sameRecipient
	if fs.NArg() > 0 || f.n <= 0 || f.c <= 0 || f.warmup < 0 || f.rounds <= 0 || f.pool < 0 || (f.pool > 0 && f.sameRecipient) ||
		(f.target != "" && (f.discard || pair || f.engines != "")) || (f.compare && f.sameRecipient) || (f.discard && pair) ||
		(f.engines != "" && (pair || f.discard || engineOf(f.engines) != "postgres")) {
		fmt.Fprintln(stderr, "bouncebench smtp: want positive -n, -c and --rounds; --target, --discard, --compare, --same-recipient\n"+
			"and --compare-engines exclude one another, as do --recipients and --same-recipient; --compare-engines takes a postgres:DSN")
		return 2
	}
	fmt.Fprintf(stdout, "bouncebench smtp: %d messages (+%d warm-up) over %d connections, %s\n",
		f.n, f.warmup, f.c, machine())
	if f.engines != "" {
		return f.compareEngines(stdout, stderr)
	}
	if !pair {
		if _, err := f.run(stdout, load{discard: f.discard}); err != nil {
			fmt.Fprintln(stderr, "bouncebench smtp:", err)
			return 1
		}
		return 0
	}
	loads := [2]load{{discard: true}, {}}
	if f.sameRecipient {
		loads = [2]load{{}, {same: true}}
	}
	var rounds []pairResult
	for range f.rounds {
		var res [2]loadResult
		for i, l := range loads {
			r, err := f.run(stdout, l)
			if err != nil {
				fmt.Fprintln(stderr, "bouncebench smtp:", err)
				return 1
			}
			res[i] = r
		}
		p := pairResult{rate: res[1].rate / res[0].rate, cpu: res[1].cpu / res[0].cpu}
		rounds = append(rounds, p)
		if f.compare {
			fmt.Fprintf(stdout, "ratio sink/discard: %.2f (target >= 0.75; issue 13: >= 0.5)\n", p.rate)
			fmt.Fprintf(stdout, "sink: server CPU %.0f µs per message (issue 13: <= 100), %.2fx the discard server's; disk written %s per message, %.2fx the compressed message (issue 13: <= 2)\n",
				res[1].cpu, p.cpu, kb(res[1].disk), res[1].disk/res[1].compressed)
		} else {
			fmt.Fprintf(stdout, "ratio same recipient/distinct recipients: rate %.2f (target >= 0.9), server CPU per message %.2f (target <= 1.1)\n", p.rate, p.cpu)
		}
	}
	if len(rounds) > 1 {
		rates, cpus := make([]float64, len(rounds)), make([]float64, len(rounds))
		for i, r := range rounds {
			rates[i], cpus[i] = r.rate, r.cpu
		}
		if f.compare {
			fmt.Fprintf(stdout, "ratio sink/discard over %d rounds: %s (target >= 0.75; issue 13: >= 0.5)\n", len(rounds), spread(rates))
			fmt.Fprintf(stdout, "server CPU per message, sink/discard, over %d rounds: %s\n", len(rounds), spread(cpus))
		} else {
			fmt.Fprintf(stdout, "ratio same recipient/distinct recipients over %d rounds: rate %s (target >= 0.9); server CPU per message %s (target <= 1.1)\n",
				len(rounds), spread(rates), spread(cpus))
		}
	}
	return 0
}

// load says which server a run loads, and how.
type load struct {
	discard bool // the discard server, not the sink
	same    bool // every bounce names one recipient, not one of its own
}

// loadResult is what one run measured; cpu and disk are per message,
// zero where unknown.
type loadResult struct {
	rate       float64 // messages per second
	cpu        float64 // server CPU, µs
	disk       float64 // bytes the server wrote to storage, its log aside
	compressed float64 // the mean size a message takes compressed, as the store compresses it
}

// pairResult compares the second load of a round with the first.
type pairResult struct{ rate, cpu float64 }

// spread prints the median, min and max of xs. The median of an even
// count is the mean of the middle two (it printed the upper one, which
// flattered a pair of rounds).
func spread(xs []float64) string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return fmt.Sprintf("median %.2f, min %.2f, max %.2f", median(xs), xs[0], xs[len(xs)-1])
}

// median is the median of xs, sorted and not empty.
func median(xs []float64) float64 {
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

func kb(b float64) string { return fmt.Sprintf("%.1f KB", b/1000) }

// compareEngines loads the sink on bbolt, then on PostgreSQL, --rounds
// times, and prints the ratio of their rates.
func (f *smtpFlags) compareEngines(stdout, stderr io.Writer) int {
	pg := f.engines
	var ratios []float64
	for range f.rounds {
		var rates [2]float64
		for i, db := range []string{"", pg} {
			f.db = db
			fmt.Fprintf(stdout, "-- engine %s\n", engineOf(db))
			r, err := f.run(stdout, load{})
			if err != nil {
				fmt.Fprintln(stderr, "bouncebench smtp:", err)
				return 1
			}
			rates[i] = r.rate
		}
		ratios = append(ratios, rates[1]/rates[0])
		fmt.Fprintf(stdout, "ratio postgres/bbolt: %.2f (target >= 0.8)\n", ratios[len(ratios)-1])
	}
	if len(ratios) > 1 {
		fmt.Fprintf(stdout, "ratio postgres/bbolt over %d rounds: %s (target >= 0.8)\n", len(ratios), spread(ratios))
	}
	return 0
}

// run loads one server and prints its figures.
func (f *smtpFlags) run(stdout io.Writer, l load) (loadResult, error) {
	t := &target{smtp: f.target, http: f.api, desc: "the server at " + f.target, stop: func() error { return nil }}
	if f.target == "" {
		o := serveOptions{Discard: l.discard, DB: f.db}
		if !l.discard && o.DB == "" {
			dir, err := os.MkdirTemp("", "bouncebench-")
			if err != nil {
				return loadResult{}, err
			}
			defer os.RemoveAll(dir)
			o.DB = filepath.Join(dir, "bouncesink.db")
		}
		var err error
		if t, err = f.server.start(o); err != nil {
			return loadResult{}, err
		}
	}
	what := "recipients of their own"
	switch {
	case l.same:
		what = "all naming one recipient"
	case f.pool > 0:
		what = fmt.Sprintf("naming recipients drawn at random from %d already stored", f.pool)
	}
	fmt.Fprintf(stdout, "== %s; bounces %s (load average %s)\n", t.desc, what, loadavg())
	stopped := false
	defer func() {
		if !stopped {
			t.stop()
		}
	}()

	prefix := "b" + strconv.FormatUint(rand.Uint64()%(36*36*36*36*36), 36) // recipients new to any store
	rcpt := func(i int) string { return rcptOf(prefix, i) }
	warm := func(i int) string { return rcptOf(prefix+"w", i) }
	warmup := f.warmup
	switch {
	case l.same:
		rcpt = func(int) string { return rcptOf(prefix, 0) }
		warm = rcpt // its history starts as deep as the warm-up
	case f.pool > 0:
		warm = func(i int) string { return rcptOf(prefix, i) }
		seed := rand.Uint64()
		rcpt = func(i int) string { return rcptOf(prefix, int(mix(seed+uint64(i))%uint64(f.pool))) }
		warmup = f.pool
	}
	warmed := 0
	if warmup > 0 {
		w := sendBounces(t.smtp, f.domain, warm, warmup, f.c)
		if w.ok == 0 {
			return loadResult{}, fmt.Errorf("warm-up: no message accepted: %v", w.firstErr)
		}
		warmed = w.ok
	}
	if err := t.resetHeap(); err != nil {
		return loadResult{}, err
	}
	logSize := fileSize(f.server.logPath)
	commits0, _ := t.commits()
	cpu := startCPU(t.pid)
	io0, _ := writeBytes(t.pid)
	r := sendBounces(t.smtp, f.domain, rcpt, f.n, f.c)
	cpuLine, cpuPer := cpu.line(r.ok + r.failed)
	io1, ioOK := writeBytes(t.pid)
	logged := fileSize(f.server.logPath) - logSize
	res := loadResult{rate: float64(r.ok) / r.elapsed.Seconds(), cpu: cpuPer}
	fmt.Fprintf(stdout, "   %d messages over %d connections in %.2fs: %.0f msg/s; %d failed\n",
		r.ok, f.c, r.elapsed.Seconds(), res.rate, r.failed)
	if r.firstErr != nil {
		fmt.Fprintf(stdout, "   first failure: %v\n", r.firstErr)
	}
	fmt.Fprintf(stdout, "   latency (MAIL FROM to the reply after DATA): %s\n", r.lat.summary())
	fmt.Fprintf(stdout, "   %s\n", cpuLine)
	if commits1, err := t.commits(); err == nil && commits1.Transactions > commits0.Transactions {
		fmt.Fprintf(stdout, "   store commits: %d, %.1f messages each\n", commits1.Transactions-commits0.Transactions,
			float64(commits1.Writers-commits0.Writers)/float64(commits1.Transactions-commits0.Transactions))
		if w := commits1.JournalWrites - commits0.JournalWrites; w > 0 {
			fmt.Fprintf(stdout, "   journal writes (each fsynced): %d, %.1f messages each\n", w,
				float64(commits1.JournalFrames-commits0.JournalFrames)/float64(w))
		}
	}
	if n := r.ok + r.failed; ioOK && n > 0 && !l.discard && t.pid != 0 {
		res.compressed = compressedSize(f.domain, rcpt, f.n)
		res.disk = (float64(io1-io0) - float64(logged)) / float64(n)
		fmt.Fprintf(stdout, "   disk written per message: %s by the store (%s with the log), %.2fx the %s the message takes compressed (from /proc/PID/io)\n",
			kb(res.disk), kb(float64(io1-io0)/float64(n)), res.disk/res.compressed, kb(res.compressed))
	}
	fmt.Fprintf(stdout, "   %s\n", t.heapLine())
	if !l.discard && t.http != "" {
		if err := spotCheck(t.http, rcpt, f.n, r.acked); err != nil {
			return loadResult{}, err
		}
		fmt.Fprintln(stdout, "   spot check: 50 acknowledged recipients found through GET /v1/recipients")
		if l.same {
			n, err := observed(t.http, rcpt(0))
			if err != nil {
				return loadResult{}, err
			}
			if n < r.ok+warmed {
				return loadResult{}, fmt.Errorf("GET /v1/recipients/%s counts %d observations; %d messages naming it were answered 250", rcpt(0), n, r.ok+warmed)
			}
			fmt.Fprintf(stdout, "   the recipient's counts add up to %d observations (%d messages answered 250)\n", n, r.ok+warmed)
		}
	}
	stopped = true
	if err := t.stop(); err != nil {
		return loadResult{}, fmt.Errorf("stopping the server: %w", err)
	}
	if r.ok == 0 {
		return loadResult{}, errors.New("no message accepted")
	}
	return res, nil
}

// compressedSize is the mean size of the first (at most 2,000) messages of
// a load once compressed as the store does (S2, a byte naming the encoding).
func compressedSize(domain string, rcpt func(int) string, n int) float64 {
	n = min(n, 2000)
	at := time.Now()
	total := 0
	for i := range n {
		msg := bouncegen.Message(bouncegen.Mixed(i), rcpt(i), bouncegen.VERP(rcpt(i), domain), i, at)
		total += 1 + len(s2.Encode(nil, msg))
	}
	return float64(total) / float64(n)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// smtpResult is the outcome of one load.
type smtpResult struct {
	ok, failed int
	elapsed    time.Duration
	lat        latencies
	acked      []bool // by message index
	firstErr   error
}

// mix is splitmix64's finaliser: a well-spread function of x, so that
// every sender goroutine can draw message i's recipient by itself.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// rcptOf names the recipient bounced by message i of a load.
func rcptOf(prefix string, i int) string { return fmt.Sprintf("%s-%07d@example.org", prefix, i) }

// sendBounces sends n generated bounces of the realistic mix over c
// connections, bounce i naming rcpt(i), and times each one.
func sendBounces(addr, domain string, rcpt func(int) string, n, c int) smtpResult {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		res   = smtpResult{acked: make([]bool, n), lat: make(latencies, 0, n)}
		wg    sync.WaitGroup
		start = time.Now()
		at    = time.Now()
		// Message ids of this call's own: the same bytes sent again (a
		// warm-up and a load in the same second, to one recipient) would
		// be one message to the sink, a retransmission it counts once.
		base = int(rand.Uint32() >> 1)
	)
	fail := func(err error) {
		mu.Lock()
		res.failed++
		if res.firstErr == nil {
			res.firstErr = err
		}
		mu.Unlock()
	}
	for range c {
		wg.Go(func() {
			var lat latencies
			var cl *smtp.Client
			defer func() {
				if cl != nil {
					cl.Quit()
				}
				mu.Lock()
				res.lat = append(res.lat, lat...)
				mu.Unlock()
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if cl == nil {
					var err error
					if cl, err = dialSMTP(addr); err != nil {
						fail(err)
						continue
					}
				}
				to := rcpt(i)
				rp := bouncegen.VERP(to, domain)
				msg := bouncegen.Message(bouncegen.Mixed(i), to, rp, base+i, at)
				t0 := time.Now()
				err := cl.SendMail("", []string{rp}, bytes.NewReader(msg)) // from the null sender, as bounces come
				if err != nil {
					fail(err)
					var se *smtp.SMTPError
					if !errors.As(err, &se) || cl.Reset() != nil {
						cl.Close()
						cl = nil
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				res.acked[i] = true // each index has one writer
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok = len(res.lat)
	return res
}

// observed returns the number of observations the store counted for addr.
func observed(httpAddr, addr string) (int, error) {
	resp, err := httpClient.Get("http://" + httpAddr + "/v1/recipients/" + addr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Recipient struct {
			Counts map[string]int `json:"counts"`
		} `json:"recipient"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("GET /v1/recipients/%s: %s: %w", addr, resp.Status, err)
	}
	n := 0
	for _, c := range body.Recipient.Counts {
		n += c
	}
	return n, nil
}

func dialSMTP(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = time.Minute
	c.SubmissionTimeout = time.Minute
	if err := c.Hello("bouncebench.example"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// spotCheck asks the API about 50 acknowledged recipients: a fast sink
// that stored nothing would be no result.
func spotCheck(httpAddr string, rcpt func(int) string, n int, acked []bool) error {
	checked := 0
	for tries := 0; checked < 50 && tries < 10*n; tries++ {
		i := rand.IntN(n)
		if !acked[i] {
			continue
		}
		resp, err := httpClient.Get("http://" + httpAddr + "/v1/recipients/" + rcpt(i))
		if err != nil {
			return fmt.Errorf("spot check: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("spot check: %s answered 250 but GET /v1/recipients says %s", rcpt(i), resp.Status)
		}
		checked++
	}
	return nil
}
