package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/internal/gctune"
	"github.com/bouncesink/bouncesink/smtpd"
)

// serveOptions say which server to run.
type serveOptions struct {
	DB       string // the sink's database; unused with Discard
	Discard  bool   // a bare go-smtp server that reads and drops each body
	SMTP     string // listen addresses
	HTTP     string
	LogLevel slog.Level
	Log      io.Writer
}

// benchServer is a server running in this process, with a sampler of
// this process's Go heap.
type benchServer struct {
	smtpAddr, httpAddr string
	heap               *heapSampler
	stop               func(context.Context) error
}

// startServer starts the full sink (store.Open, ingest.Sink, smtpd and the
// api handler, as bouncesink serve wires them with its default
// configuration) or the discard server. Both serve /debug/bench/heap.
func startServer(o serveOptions) (*benchServer, error) {
	log := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: o.LogLevel}))
	heap := newHeapSampler(50 * time.Millisecond)
	mux := http.NewServeMux()
	mux.Handle("/debug/bench/heap", heap)
	mux.Handle("/debug/bench/heap/", heap)

	var (
		serveSMTP func(net.Listener) error
		stopSMTP  func(context.Context) error
		closeDB   = func() error { return nil }
	)
	if o.Discard {
		s := newDiscardServer()
		serveSMTP = s.Serve
		stopSMTP = s.Shutdown
	} else {
		db, err := openBenchStore(o.DB)
		if err != nil {
			heap.close()
			return nil, err
		}
		closeDB = db.Close
		sink := &ingest.Sink{Store: db, VERPSeparator: smtpd.DefaultVERPSeparator, Logger: log}
		s, err := smtpd.New(sink, smtpd.Options{Logger: log})
		if err != nil {
			db.Close()
			heap.close()
			return nil, err
		}
		serveSMTP = s.Serve
		stopSMTP = s.Shutdown
		mux.Handle("/", api.NewHandler(db, api.Options{Logger: log}))
		mux.Handle("/debug/bench/prune", &pruneRunner{db: db})
		if c, ok := benchCommits(db); ok {
			mux.HandleFunc("GET /debug/bench/commits", func(w http.ResponseWriter, r *http.Request) {
				cc := commitCounts{}
				cc.Transactions, cc.Writers = c.Commits()
				if j, ok := db.(interface{ JournalWrites() (int64, int64, int64) }); ok {
					cc.JournalWrites, cc.JournalFrames, _ = j.JournalWrites()
				}
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(cc)
			})
		}
	}

	smtpLn, err := net.Listen("tcp", o.SMTP)
	if err != nil {
		closeDB()
		heap.close()
		return nil, err
	}
	httpLn, err := net.Listen("tcp", o.HTTP)
	if err != nil {
		smtpLn.Close()
		closeDB()
		heap.close()
		return nil, err
	}
	hs := api.NewServer(mux, log)
	go serveSMTP(smtpLn)
	go hs.Serve(httpLn)
	return &benchServer{
		smtpAddr: smtpLn.Addr().String(),
		httpAddr: httpLn.Addr().String(),
		heap:     heap,
		stop: func(ctx context.Context) error {
			err := errors.Join(stopSMTP(ctx), hs.Shutdown(ctx), closeDB())
			heap.close()
			return err
		},
	}, nil
}

// newDiscardServer is the yardstick: go-smtp with the same limits as the
// sink, accepting every recipient and reading each body into io.Discard.
func newDiscardServer() *smtp.Server {
	s := smtp.NewServer(discardBackend{})
	s.Domain = smtpd.DefaultHostname
	s.MaxMessageBytes = smtpd.DefaultMaxMessageBytes
	s.MaxRecipients = smtpd.DefaultMaxRecipients
	s.MaxLineLength = smtpd.DefaultMaxLineLength
	s.ReadTimeout = smtpd.DefaultReadTimeout
	s.WriteTimeout = smtpd.DefaultWriteTimeout
	s.EnableSMTPUTF8 = true
	return s
}

type discardBackend struct{}

func (discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Reset()                               {}
func (discardSession) Logout() error                        { return nil }
func (discardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// commitCounts are the store's group commit figures (boltstore's Commits).
type commitCounts struct {
	Transactions int64 `json:"transactions"`
	Writers      int64 `json:"writers"`
	// The bbolt engine's journal: its writes (each an fsync) and the
	// messages they carried.
	JournalWrites int64 `json:"journal_writes,omitempty"`
	JournalFrames int64 `json:"journal_frames,omitempty"`
}

// heapStats are the sampler's figures, in bytes.
type heapStats struct {
	HeapInuseMax uint64 `json:"heap_inuse_max"`
	HeapAllocMax uint64 `json:"heap_alloc_max"`
	HeapInuse    uint64 `json:"heap_inuse"`
	HeapAlloc    uint64 `json:"heap_alloc"`
	NumGC        uint32 `json:"num_gc"`
	Samples      int    `json:"samples"`
}

// heapSampler reads runtime.MemStats periodically and keeps the maxima.
// GET /debug/bench/heap returns them; POST /debug/bench/heap/reset starts
// over, so a load client can exclude the set-up.
type heapSampler struct {
	mu    sync.Mutex
	st    heapStats
	every time.Duration
	done  chan struct{}
	once  sync.Once
}

func newHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{every: every, done: make(chan struct{})}
	h.sample()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.sample()
			case <-h.done:
				return
			}
		}
	}()
	return h
}

func (h *heapSampler) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.HeapInuse, h.st.HeapAlloc, h.st.NumGC = m.HeapInuse, m.HeapAlloc, m.NumGC
	h.st.HeapInuseMax = max(h.st.HeapInuseMax, m.HeapInuse)
	h.st.HeapAllocMax = max(h.st.HeapAllocMax, m.HeapAlloc)
	h.st.Samples++
}

func (h *heapSampler) reset() {
	h.mu.Lock()
	h.st = heapStats{}
	h.mu.Unlock()
	h.sample()
}

func (h *heapSampler) stats() heapStats {
	h.sample()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

func (h *heapSampler) close() { h.once.Do(func() { close(h.done) }) }

func (h *heapSampler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/debug/bench/heap/reset":
		h.reset()
	case r.Method == http.MethodGet && r.URL.Path == "/debug/bench/heap":
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(h.stats())
}

// cmdServe runs a server until SIGINT or SIGTERM, or, with --parent, until
// its standard input closes (the bouncebench that started it is done or
// gone). It prints its addresses on stdout, then "ready".
func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o serveOptions
	fs.StringVar(&o.DB, "db", "", "sink database `path` (required unless --discard)")
	fs.BoolVar(&o.Discard, "discard", false, "run the discard server instead of the sink")
	fs.StringVar(&o.SMTP, "smtp", "127.0.0.1:0", "SMTP listen `address`")
	fs.StringVar(&o.HTTP, "http", "127.0.0.1:0", "HTTP listen `address` (the API, and /debug/bench/heap)")
	level := fs.String("log-level", "info", "sink log `level`: debug, info (bouncesink's default), warn, error")
	logPath := fs.String("log", "", "append the log to `file` instead of stderr")
	parent := fs.Bool("parent", false, "stop when standard input closes")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's whole run to `file` (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write the server's allocations over its whole run to `file` when it stops (go tool pprof -sample_index=alloc_space)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (o.DB == "") == !o.Discard {
		fmt.Fprintln(stderr, "bouncebench serve: want --db PATH or --discard")
		return 2
	}
	if err := o.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(stderr, "bouncebench serve:", err)
		return 2
	}
	o.Log = stderr
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(stderr, "bouncebench serve:", err)
			return 1
		}
		defer f.Close()
		o.Log = f
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "bouncebench serve:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(stderr, "bouncebench serve: memory profile:", err)
			}
		}()
	}
	gctune.Apply() // as bouncesink serve does, for the discard server too
	s, err := startServer(o)
	if err != nil {
		fmt.Fprintln(stderr, "bouncebench serve:", err)
		return 1
	}
	fmt.Fprintf(stdout, "smtp %s\nhttp %s\nready\n", s.smtpAddr, s.httpAddr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *parent {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.stop(sctx); err != nil {
		fmt.Fprintln(stderr, "bouncebench serve: stop:", err)
		return 1
	}
	return 0
}
