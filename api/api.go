// Package api serves bouncesink's HTTP JSON API: the suppression lookups
// mailing software makes before sending, a recipient's state and history
// for people, and a health check. It reads the store through store.Reader
// only, so any backend implementing it can serve the API.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// DefaultMaxBodyBytes bounds a request body. A /v1/check list of 100,000
// addresses is about 3 MiB of JSON, so 32 MiB leaves room for long lists
// while keeping one request from exhausting memory.
const DefaultMaxBodyBytes = 32 << 20

// Options configure the API. Zero values mean the defaults.
type Options struct {
	MaxBodyBytes int64
	Logger       *slog.Logger
}

type api struct {
	store   store.Reader
	maxBody int64
	log     *slog.Logger
}

// NewHandler returns the API's routes over r.
func NewHandler(r store.Reader, opts Options) http.Handler {
	a := &api{store: r, maxBody: opts.MaxBodyBytes, log: opts.Logger}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	mux := http.NewServeMux()
	route := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		// The same path with any other method: a JSON 405, not the mux's text.
		mux.HandleFunc(path, methodNotAllowed(method))
	}
	route(http.MethodGet, "/v1/suppressions/{address}", a.suppression)
	route(http.MethodPost, "/v1/check", a.check)
	route(http.MethodGet, "/v1/recipients/{address}", a.recipient)
	route(http.MethodGet, "/healthz", a.health)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return a.logRequests(mux)
}

// The server's timeouts. Reads allow a 32 MiB check list on a slow link;
// the header timeout keeps idle half-open connections from piling up.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 2 * time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// NewServer wraps h in an http.Server with explicit timeouts.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// logRequests logs every request at debug level, and server errors at error level.
func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelError
		}
		a.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("took", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
