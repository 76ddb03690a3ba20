package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// httpFlags are the flags shared by check and lookup.
type httpFlags struct {
	db         string
	api        string
	recipients int
	server     serverFlags
}

func (f *httpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.db, "db", "", "a store filled by \"bouncebench fill\"; a sink is started on it")
	fs.StringVar(&f.api, "api", "", "HTTP API `address` (host:port) of a running sink to load instead")
	fs.IntVar(&f.recipients, "recipients", 1_000_000, "the -n the store was filled with")
	f.server.register(fs)
}

func (f *httpFlags) start() (*target, error) {
	if (f.db == "") == (f.api == "") {
		return nil, fmt.Errorf("want --db PATH or --api ADDR")
	}
	if f.api != "" {
		return &target{http: f.api, desc: "the API at " + f.api, stop: func() error { return nil }}, nil
	}
	return f.server.start(serveOptions{DB: f.db})
}

// sendList makes a send list of n addresses: mostly filled recipients
// (a tenth of those suppressed), a quarter unknown ones, some written
// untidily (case, spaces) and a few not addresses at all. It returns the
// number of suppressed addresses the answer must list.
func sendList(n, recipients int, seed uint64) (list []string, suppressed int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	list = make([]string, n)
	for j := range list {
		switch p := rng.IntN(1000); {
		case p < 2:
			list[j] = fmt.Sprintf("not-an-address-%d", j)
		case p < 250:
			list[j] = fmt.Sprintf("nobody%07d@example.com", j)
		default:
			i := rng.IntN(recipients)
			a := fillAddress(i)
			if p < 300 {
				a = " " + strings.ToUpper(a) + " "
			}
			list[j] = a
			if fillSuppressed(i) {
				suppressed++
			}
		}
	}
	return list, suppressed
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f httpFlags
	f.register(fs)
	n := fs.Int("addresses", 100_000, "addresses per POST /v1/check")
	repeat := fs.Int("repeat", 5, "requests to time, one after the other")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *n <= 0 || *repeat <= 0 || f.recipients <= 0 {
		fs.Usage()
		return 2
	}
	t, err := f.start()
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench check:", err)
		return 2
	}
	defer t.stop()

	list, wantSupp := sendList(*n, f.recipients, 42)
	body, err := json.Marshal(map[string][]string{"addresses": list})
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench check:", err)
		return 1
	}
	fmt.Fprintf(stdout, "bouncebench check: POST /v1/check, %d addresses (%.1f MiB of JSON), store of %d recipients, %s\n== %s\n",
		*n, mib(uint64(len(body))), f.recipients, machine(), t.desc)
	if err := t.resetHeap(); err != nil {
		fmt.Fprintln(stderr, "bouncebench check:", err)
		return 1
	}
	var took latencies
	for r := range *repeat {
		start := time.Now()
		resp, err := httpClient.Post("http://"+t.http+"/v1/check", "application/json", bytes.NewReader(body))
		if err != nil {
			fmt.Fprintln(stderr, "bouncebench check:", err)
			return 1
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintf(stderr, "bouncebench check: %s %v: %.200s\n", resp.Status, err, data)
			return 1
		}
		var ans struct {
			Checked    int               `json:"checked"`
			Suppressed []json.RawMessage `json:"suppressed"`
			Invalid    []string          `json:"invalid"`
		}
		if err := json.Unmarshal(data, &ans); err != nil {
			fmt.Fprintln(stderr, "bouncebench check: answer:", err)
			return 1
		}
		fmt.Fprintf(stdout, "   request %d: %s (answer %.1f MiB: %d checked, %d suppressed, %d invalid)\n",
			r+1, ms(d), mib(uint64(len(data))), ans.Checked, len(ans.Suppressed), len(ans.Invalid))
		if ans.Checked != *n || len(ans.Suppressed) != wantSupp {
			fmt.Fprintf(stderr, "bouncebench check: want %d checked and %d suppressed: is the store filled with -n %d?\n",
				*n, wantSupp, f.recipients)
			return 1
		}
		took = append(took, d)
	}
	fmt.Fprintf(stdout, "   time per request, from sending to the answer read (target < 500ms): %s\n", took.summary())
	fmt.Fprintf(stdout, "   %s\n", t.heapLine())
	return 0
}

func cmdLookup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f httpFlags
	f.register(fs)
	rate := fs.Int("rate", 5000, "requests per second, sent on schedule whatever the answers' speed")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (after the warm-up)")
	warmup := fs.Duration("warmup", time.Second, "load at the same rate first, not counted")
	workers := fs.Int("workers", 64, "concurrent requests at most (keep-alive connections)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *rate <= 0 || *duration <= 0 || *workers <= 0 || f.recipients <= 0 {
		fs.Usage()
		return 2
	}
	t, err := f.start()
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench lookup:", err)
		return 2
	}
	defer t.stop()
	fmt.Fprintf(stdout, "bouncebench lookup: GET /v1/suppressions/ADDR at %d/s for %s, store of %d recipients, %s\n== %s\n",
		*rate, *duration, f.recipients, machine(), t.desc)
	l := &lookupLoad{base: "http://" + t.http, recipients: f.recipients, workers: *workers}
	if *warmup > 0 {
		l.run(*rate, *warmup)
	}
	if err := t.resetHeap(); err != nil {
		fmt.Fprintln(stderr, "bouncebench lookup:", err)
		return 1
	}
	r := l.run(*rate, *duration)
	fmt.Fprintf(stdout, "   %d requests in %.2fs: %.0f/s; answers: %d suppressed (200), %d not (404), %d other or failed; %d late by over 100ms at sending\n",
		len(r.sched), r.elapsed.Seconds(), float64(len(r.sched))/r.elapsed.Seconds(), r.found, r.notFound, r.failed, r.late)
	if r.firstErr != nil {
		fmt.Fprintf(stdout, "   first failure: %v\n", r.firstErr)
	}
	fmt.Fprintf(stdout, "   latency from the scheduled send (target p99 < 2ms): %s\n", r.sched.summary())
	fmt.Fprintf(stdout, "   latency from the actual send:                       %s\n", r.service.summary())
	fmt.Fprintf(stdout, "   %s\n", t.heapLine())
	if r.failed > 0 {
		return 1
	}
	return 0
}

// lookupLoad sends single-address lookups open-loop: each request has a
// scheduled time, and its latency counts from then, so a slow answer that
// delays the next requests is charged to them too (no coordinated omission).
type lookupLoad struct {
	base       string
	recipients int
	workers    int
	client     *http.Client
}

type lookupResult struct {
	sched, service          latencies
	found, notFound, failed int
	late                    int
	elapsed                 time.Duration
	firstErr                error
}

func (l *lookupLoad) run(rate int, d time.Duration) lookupResult {
	if l.client == nil {
		l.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConns: l.workers, MaxIdleConnsPerHost: l.workers, DisableCompression: true}}
	}
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	jobs := make(chan time.Time, total)
	var (
		mu  sync.Mutex
		res lookupResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	for w := range l.workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var sched, service latencies
			var found, notFound, failed, late int
			var firstErr error
			for due := range jobs {
				addr := fillAddress(rng.IntN(l.recipients))
				if rng.IntN(5) == 0 {
					addr = fmt.Sprintf("nobody%07d@example.com", rng.IntN(l.recipients))
				}
				t0 := time.Now()
				if t0.Sub(due) > 100*time.Millisecond {
					late++
				}
				resp, err := l.client.Get(l.base + "/v1/suppressions/" + url.PathEscape(addr))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				end := time.Now()
				switch {
				case err != nil:
					failed++
					firstErr = err
					continue
				case resp.StatusCode == http.StatusOK:
					found++
				case resp.StatusCode == http.StatusNotFound:
					notFound++
				default:
					failed++
					firstErr = fmt.Errorf("%s: %s", addr, resp.Status)
				}
				sched = append(sched, end.Sub(due))
				service = append(service, end.Sub(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			res.sched = append(res.sched, sched...)
			res.service = append(res.service, service...)
			res.found += found
			res.notFound += notFound
			res.failed += failed
			res.late += late
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
		})
	}
	// The schedule: request i is due at start + i*interval. Sleeping until
	// each is due would cost more than the requests; sending whatever is
	// due every few hundred microseconds keeps to the rate.
	for i := 0; i < total; {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		for now := time.Now(); i < total && !start.Add(time.Duration(i)*interval).After(now); i++ {
			jobs <- start.Add(time.Duration(i) * interval)
		}
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}
