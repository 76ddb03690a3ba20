package main

import (
	"bytes"
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

	"github.com/bouncesink/bouncesink/internal/bouncegen"
)

type smtpFlags struct {
	n, c, warmup int
	target       string
	api          string
	discard      bool
	compare      bool
	engines      string
	rounds       int
	db           string
	domain       string
	server       serverFlags
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
	fs.StringVar(&f.engines, "compare-engines", "", "load the sink on a new bbolt file, then on this `postgres:DSN`, and print the ratio of their rates")
	fs.IntVar(&f.rounds, "rounds", 1, "with --compare or --compare-engines, alternate the two this many times (a busy machine shifts single figures)")
	fs.StringVar(&f.db, "db", "", "sink database `path` (default: a new one in a temporary directory, removed afterwards)")
	fs.StringVar(&f.domain, "domain", "localhost", "`domain` of the VERP return paths (the sink must accept it)")
	f.server.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || f.n <= 0 || f.c <= 0 || f.warmup < 0 || f.rounds <= 0 || (f.target != "" && (f.discard || f.compare || f.engines != "")) ||
		(f.engines != "" && (f.compare || f.discard || engineOf(f.engines) != "postgres")) {
		fmt.Fprintln(stderr, "bouncebench smtp: want positive -n, -c and --rounds; --target excludes --discard and --compare;\n"+
			"--compare-engines takes a postgres:DSN and excludes --compare and --discard")
		return 2
	}
	fmt.Fprintf(stdout, "bouncebench smtp: %d messages (+%d warm-up) over %d connections, %s\n",
		f.n, f.warmup, f.c, machine())
	if f.engines != "" {
		return f.compareEngines(stdout, stderr)
	}
	if !f.compare {
		if _, err := f.run(stdout, f.discard); err != nil {
			fmt.Fprintln(stderr, "bouncebench smtp:", err)
			return 1
		}
		return 0
	}
	var ratios []float64
	for range f.rounds {
		var rates [2]float64
		for i, discard := range []bool{true, false} {
			rate, err := f.run(stdout, discard)
			if err != nil {
				fmt.Fprintln(stderr, "bouncebench smtp:", err)
				return 1
			}
			rates[i] = rate
		}
		ratios = append(ratios, rates[1]/rates[0])
		fmt.Fprintf(stdout, "ratio sink/discard: %.2f (target >= 0.75)\n", ratios[len(ratios)-1])
	}
	if len(ratios) > 1 {
		slices.Sort(ratios)
		fmt.Fprintf(stdout, "ratio sink/discard over %d rounds: median %.2f, min %.2f, max %.2f (target >= 0.75)\n",
			len(ratios), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	}
	return 0
}

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
			rate, err := f.run(stdout, false)
			if err != nil {
				fmt.Fprintln(stderr, "bouncebench smtp:", err)
				return 1
			}
			rates[i] = rate
		}
		ratios = append(ratios, rates[1]/rates[0])
		fmt.Fprintf(stdout, "ratio postgres/bbolt: %.2f (target >= 0.8)\n", ratios[len(ratios)-1])
	}
	if len(ratios) > 1 {
		slices.Sort(ratios)
		fmt.Fprintf(stdout, "ratio postgres/bbolt over %d rounds: median %.2f, min %.2f, max %.2f (target >= 0.8)\n",
			len(ratios), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	}
	return 0
}

// run loads one server and prints its figures; it returns the rate.
func (f *smtpFlags) run(stdout io.Writer, discard bool) (float64, error) {
	t := &target{smtp: f.target, http: f.api, desc: "the server at " + f.target, stop: func() error { return nil }}
	if f.target == "" {
		o := serveOptions{Discard: discard, DB: f.db}
		if !discard && o.DB == "" {
			dir, err := os.MkdirTemp("", "bouncebench-")
			if err != nil {
				return 0, err
			}
			defer os.RemoveAll(dir)
			o.DB = filepath.Join(dir, "bouncesink.db")
		}
		var err error
		if t, err = f.server.start(o); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(stdout, "== %s (load average %s)\n", t.desc, loadavg())
	stopped := false
	defer func() {
		if !stopped {
			t.stop()
		}
	}()

	prefix := "b" + strconv.FormatUint(rand.Uint64()%(36*36*36*36*36), 36) // recipients new to any store
	if f.warmup > 0 {
		if w := sendBounces(t.smtp, f.domain, prefix+"w", f.warmup, f.c); w.ok == 0 {
			return 0, fmt.Errorf("warm-up: no message accepted: %v", w.firstErr)
		}
	}
	if err := t.resetHeap(); err != nil {
		return 0, err
	}
	cpu := startCPU(t.pid)
	r := sendBounces(t.smtp, f.domain, prefix, f.n, f.c)
	cpuLine := cpu.line(r.ok + r.failed)
	rate := float64(r.ok) / r.elapsed.Seconds()
	fmt.Fprintf(stdout, "   %d messages over %d connections in %.2fs: %.0f msg/s; %d failed\n",
		r.ok, f.c, r.elapsed.Seconds(), rate, r.failed)
	if r.firstErr != nil {
		fmt.Fprintf(stdout, "   first failure: %v\n", r.firstErr)
	}
	fmt.Fprintf(stdout, "   latency (MAIL FROM to the reply after DATA): %s\n", r.lat.summary())
	fmt.Fprintf(stdout, "   %s\n", cpuLine)
	fmt.Fprintf(stdout, "   %s\n", t.heapLine())
	if !discard && t.http != "" {
		if err := spotCheck(t.http, prefix, f.n, r.acked); err != nil {
			return 0, err
		}
		fmt.Fprintln(stdout, "   spot check: 50 acknowledged recipients found through GET /v1/recipients")
	}
	stopped = true
	if err := t.stop(); err != nil {
		return 0, fmt.Errorf("stopping the server: %w", err)
	}
	if r.ok == 0 {
		return 0, errors.New("no message accepted")
	}
	return rate, nil
}

// smtpResult is the outcome of one load.
type smtpResult struct {
	ok, failed int
	elapsed    time.Duration
	lat        latencies
	acked      []bool // by message index
	firstErr   error
}

// rcptOf names the recipient bounced by message i of a load.
func rcptOf(prefix string, i int) string { return fmt.Sprintf("%s-%07d@example.org", prefix, i) }

// sendBounces sends n generated bounces of the realistic mix over c
// connections, each naming a recipient of its own, and times each one.
func sendBounces(addr, domain, prefix string, n, c int) smtpResult {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		res   = smtpResult{acked: make([]bool, n), lat: make(latencies, 0, n)}
		wg    sync.WaitGroup
		start = time.Now()
		at    = time.Now()
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
				rcpt := rcptOf(prefix, i)
				rp := bouncegen.VERP(rcpt, domain)
				msg := bouncegen.Message(bouncegen.Mixed(i), rcpt, rp, i, at)
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
func spotCheck(httpAddr, prefix string, n int, acked []bool) error {
	checked := 0
	for tries := 0; checked < 50 && tries < 10*n; tries++ {
		i := rand.IntN(n)
		if !acked[i] {
			continue
		}
		resp, err := httpClient.Get("http://" + httpAddr + "/v1/recipients/" + rcptOf(prefix, i))
		if err != nil {
			return fmt.Errorf("spot check: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("spot check: %s answered 250 but GET /v1/recipients says %s", rcptOf(prefix, i), resp.Status)
		}
		checked++
	}
	return nil
}
