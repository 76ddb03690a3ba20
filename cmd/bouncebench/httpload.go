package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
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
	target := "500ms" // bbolt's; on PostgreSQL, a network round trip and a database's work away, 1 s
	if engineOf(f.db) == "postgres" {
		target = "1s"
	}
	fmt.Fprintf(stdout, "   time per request, from sending to the answer read (target < %s): %s\n", target, took.summary())
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
	l := &lookupLoad{addr: t.http, recipients: f.recipients, workers: *workers}
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
	target := "p99 < 2ms at 5000/s" // bbolt's; on PostgreSQL p99 < 3ms at 2000/s
	if engineOf(f.db) == "postgres" {
		target = "p99 < 3ms at 2000/s"
	}
	fmt.Fprintf(stdout, "   latency from the scheduled send (target %s): %s\n", target, r.sched.summary())
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
	addr       string // host:port of the API
	recipients int
	workers    int
}

type lookupResult struct {
	sched, service          latencies
	found, notFound, failed int
	late                    int
	elapsed                 time.Duration
	firstErr                error
}

func (l *lookupLoad) run(rate int, d time.Duration) lookupResult {
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
			conn := &httpConn{addr: l.addr}
			defer conn.close()
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
				status, err := conn.get("/v1/suppressions/" + url.PathEscape(addr))
				end := time.Now()
				switch {
				case err != nil:
					failed++
					firstErr = err
					continue
				case status == http.StatusOK:
					found++
				case status == http.StatusNotFound:
					notFound++
				default:
					failed++
					firstErr = fmt.Errorf("%s: HTTP status %d", addr, status)
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
	// The schedule: request i is due at start + i*interval, and is handed
	// to an idle worker then. Go's time.Sleep wakes up to a millisecond
	// late on an idle machine (the runtime's poller sleeps in whole
	// milliseconds), which would be counted as the server's latency; this
	// goroutine keeps an OS thread of its own and sleeps in nanosleep(2),
	// which wakes within about 0.1 ms.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < total; {
		due := start.Add(time.Duration(i) * interval)
		preciseSleep(time.Until(due))
		for now := time.Now(); i < total && !start.Add(time.Duration(i)*interval).After(now); i++ {
			jobs <- start.Add(time.Duration(i) * interval)
		}
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// httpConn is one keep-alive HTTP/1.1 connection that sends GET requests
// and reads their answers by hand. net/http's client (its transport's
// goroutines, channels and header maps) cost the load tool about as much
// CPU per request as the server spends answering it; on two CPUs shared
// with the server that was measured as the server's latency.
type httpConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

// get sends GET path and reads the whole answer; it returns the status
// code. After any error the connection is closed, and the next get dials.
func (c *httpConn) get(path string) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	status, err := c.roundTrip(path)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *httpConn) roundTrip(path string) (int, error) {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	c.req = append(append(append(append(c.req[:0], "GET "...), path...), " HTTP/1.1\r\nHost: "...), c.addr...)
	c.req = append(c.req, "\r\n\r\n"...)
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK"
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := int64(-1), false, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		// The chunk reader stops after the last chunk's size line; the
		// trailer, down to its empty line, is left to read.
		if _, err = io.Copy(io.Discard, httputil.NewChunkedReader(c.r)); err == nil {
			err = c.skipTrailer()
		}
	case length >= 0:
		_, err = io.CopyN(io.Discard, c.r, length)
	default:
		return 0, errors.New("answer with neither a Content-Length nor chunks")
	}
	if err == nil && closing {
		c.close()
	}
	return status, err
}

func (c *httpConn) skipTrailer() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
	}
}

func (c *httpConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.r = nil, nil
	}
}
