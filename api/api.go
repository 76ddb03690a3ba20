// Package api serves bouncesink's HTTP JSON API: the suppression lookups
// mailing software makes before sending, a recipient's state and history
// for people, and a health check. It reads the store through store.Reader
// only, so any backend implementing it can serve the API. It also owns
// the API's bearer tokens and the limit on failed attempts (auth.go,
// tokens.go, ratelimit.go), what keeps browsers of other sites out
// (cross-origin checks in handler, hosts.go), the bounds on bodies and on
// heavy requests (limits.go), whether the store takes writes (health.go),
// its request metrics and /metrics (metrics.go), and its OpenAPI document
// (openapi.json), which a test keeps equal to the route table.
package api

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bouncesink/bouncesink/store"
)

// DefaultMaxBodyBytes bounds a POST /v1/check body. A list of 100,000
// addresses is about 3 MiB of JSON, so 32 MiB leaves room for long lists
// while keeping one request from exhausting memory (the list is decoded
// as it streams in, and the heavy requests are few at a time).
const DefaultMaxBodyBytes = 32 << 20

// MaxSmallBody bounds the optional JSON body of PUT and DELETE
// /v1/suppressions/{address}.
const MaxSmallBody = 64 << 10

// Options configure the API. Zero values mean the defaults.
type Options struct {
	// MaxBodyBytes bounds a POST /v1/check body; zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Auth checks the bearer tokens; nil lets every request in (see
	// Auth.Open).
	Auth *Auth
	// Metrics counts requests and serves /metrics; nil means a registry of
	// the API's own.
	Metrics *Metrics
	// MaxImportBytes bounds a POST /v1/import body; zero means
	// DefaultMaxImportBytes.
	MaxImportBytes int64
	// MaxHeavy is how many checks run at once, and how many transfers
	// (export, import, backup) besides; zero means DefaultMaxHeavy.
	// HeavyWait is how long one more waits for a turn before it is
	// answered 503; zero means DefaultHeavyWait. See limits.go.
	MaxHeavy  int
	HeavyWait time.Duration
	// Health, when set, tells /healthz whether the store takes writes
	// (see Health); without it /healthz only pings the store.
	Health *Health
	// Webhooks, when set, is shown under /v1/webhooks.
	Webhooks WebhookStatus
}

type api struct {
	store     store.Reader
	admin     store.Admin // the store's other side, if it has one (admin.go)
	maxBody   int64
	maxImport int64
	log       *slog.Logger
	auth      *Auth
	metrics   *Metrics
	checks    *gate // turns of POST /v1/check
	transfers *gate // turns of export, import and backup
	writes    *Health
	webhooks  WebhookStatus
}

// route is one endpoint of the API.
type route struct {
	method  string
	path    string // a net/http.ServeMux path pattern
	role    Role   // the least role that may call it; rolePublic for anyone
	handler http.HandlerFunc
}

// routes is the API: NewHandler serves exactly this table, and a test
// checks it against the OpenAPI document (openapi.json).
func (a *api) routes() []route {
	return []route{
		{http.MethodGet, "/v1/suppressions/{address}", RoleRead, a.suppression},
		{http.MethodPut, "/v1/suppressions/{address}", RoleAdmin, a.suppress},
		{http.MethodDelete, "/v1/suppressions/{address}", RoleAdmin, a.lift},
		{http.MethodGet, "/v1/suppressions", RoleRead, a.listSuppressions},
		{http.MethodPost, "/v1/suppressions/lift", RoleAdmin, a.bulkLift},
		{http.MethodGet, "/v1/audit", RoleRead, a.audit},
		{http.MethodGet, "/v1/events", RoleRead, a.events},
		{http.MethodGet, "/v1/stats", RoleRead, a.stats},
		{http.MethodGet, "/v1/export", RoleRead, a.transfers.limit(a.export)},
		{http.MethodPost, "/v1/import", RoleAdmin, a.transfers.limit(a.importList)},
		{http.MethodGet, "/v1/backup", RoleAdmin, a.transfers.limit(a.backup)},
		{http.MethodPost, "/v1/check", RoleRead, a.checks.limit(a.check)},
		{http.MethodGet, "/v1/recipients/{address}", RoleRead, a.recipient},
		{http.MethodGet, "/v1/recipients/{address}/events", RoleRead, a.history},
		{http.MethodGet, "/v1/openapi.json", rolePublic, serveOpenAPI},
		{http.MethodGet, "/v1/webhooks", RoleRead, a.webhookState},
		{http.MethodGet, "/v1/webhooks/dead-letters", RoleRead, a.deadLetters},
		{http.MethodGet, "/metrics", RoleRead, a.serveMetrics},
		{http.MethodGet, "/healthz", rolePublic, a.health},
	}
}

// NewHandler returns the API's routes over r.
func NewHandler(r store.Reader, opts Options) http.Handler {
	return newAPI(r, opts).handler()
}

func newAPI(r store.Reader, opts Options) *api {
	a := &api{store: r, maxBody: opts.MaxBodyBytes, maxImport: opts.MaxImportBytes, log: opts.Logger, auth: opts.Auth,
		metrics: opts.Metrics, checks: newGate(opts.MaxHeavy, opts.HeavyWait),
		transfers: newGate(opts.MaxHeavy, opts.HeavyWait), writes: opts.Health, webhooks: opts.Webhooks}
	a.admin, _ = r.(store.Admin)
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.maxImport <= 0 {
		a.maxImport = DefaultMaxImportBytes
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.metrics == nil {
		a.metrics, _ = NewMetrics(prometheus.NewRegistry()) // a new registry holds no duplicates
	}
	return a
}

// handler serves routes(), each behind its role check, and answers JSON
// 404s and 405s for the rest. A state-changing request that a browser
// says comes from another site is refused (403) before anything else:
// with no tokens configured the API is open to whatever runs on the
// machine, a web page in a browser included.
func (a *api) handler() http.Handler {
	mux := http.NewServeMux()
	var allow = map[string][]string{} // path -> methods, in table order
	var paths []string
	for _, rt := range a.routes() {
		mux.Handle(rt.method+" "+rt.path, a.auth.authorize(rt.role, rt.handler))
		if allow[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	for _, p := range paths {
		// The same path with another method: a JSON 405, not the mux's
		// text. Method by method, since a path for any method would
		// conflict with a wildcard path of a given method
		// (/v1/suppressions/lift and GET /v1/suppressions/{address}).
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if !slices.Contains(allow[p], m) {
				mux.HandleFunc(m+" "+p, methodNotAllowed(strings.Join(allow[p], ", ")))
			}
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: the browser says it comes from another site")
	}))
	return a.logRequests(a.metrics.instrument(cop.Handler(mux)))
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

// Unwrap lets http.ResponseController reach the connection beneath, so
// that export and import can renew their deadlines and flush.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
