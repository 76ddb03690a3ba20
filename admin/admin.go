// Package admin serves bouncesink's admin web page under /admin/: the
// suppression list with search, filters, sorting and pages; each
// recipient's state and event timeline with the raw messages; forms to
// lift or add a suppression; statistics drawn as server-side SVG; and, for
// every reason token, its likely cause and remedy in English or Japanese
// as the browser asks. Pages are html/template and one embedded style
// sheet; reading needs no JavaScript.
//
// It reads and changes the store through the Store interface, and leaves
// deciding who may do what to its caller (Options.Authorize).
package admin

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// prefix is where the page is mounted.
const prefix = "/admin"

// Roles, as the API's tokens carry them.
const (
	RoleRead  = "read"
	RoleAdmin = "admin"
)

// Options configure the admin page. Zero values mean the defaults.
type Options struct {
	Logger *slog.Logger
	// Authorize says who is behind a request and with what role (RoleRead
	// or RoleAdmin); ok false means not signed in. Nil means open to
	// every request that arrives on a loopback address, with the admin
	// role, and closed to any other.
	Authorize func(r *http.Request) (name, role string, ok bool)
	// CheckToken, when set, enables the sign-in form: it checks an API
	// token typed there (in the request r) and returns its name and role.
	// The page then starts a server-side session for that user, whose id
	// an HttpOnly cookie keeps, for requests Authorize does not accept. An
	// error with a RetryAfter() time.Duration method says the client
	// failed too often (answered 429).
	CheckToken func(r *http.Request, token string) (name, role string, err error)
	// TrustedProxies are the reverse proxies whose X-Forwarded-Proto is
	// believed: "https" from one of them marks the cookies Secure.
	TrustedProxies []netip.Prefix
	// SessionLifetime is how long a sign-in lasts; 0 means
	// DefaultSessionLifetime.
	SessionLifetime time.Duration
	// Now is the clock for the statistics period; nil means time.Now.
	Now func() time.Time
	// StatsDays is how many days the statistics page covers; 0 means 30.
	StatsDays int
	// PageSize is the suppressions per list page; 0 means 50.
	PageSize int
	// TimelinePage is the events per page of a recipient's timeline; 0
	// means 200.
	TimelinePage int
	// Webhooks, when set, is shown on the webhooks page.
	Webhooks Webhooks
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

type handler struct {
	store    Store
	opts     Options
	log      *slog.Logger
	sessions *sessions
	pages    map[string]*template.Template
}

// New returns the admin page's handler. It serves paths under /admin/ and
// expects to be mounted there (mux.Handle("/admin/", h)).
func New(s Store, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StatsDays <= 0 {
		opts.StatsDays = 30
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.TimelinePage <= 0 {
		opts.TimelinePage = 200
	}
	if opts.Authorize == nil {
		opts.Authorize = loopbackOnly
	}
	if opts.SessionLifetime <= 0 {
		opts.SessionLifetime = DefaultSessionLifetime
	}
	h := &handler{store: s, opts: opts, log: opts.Logger, sessions: newSessions(opts.Now, opts.SessionLifetime), pages: parsePages()}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/{$}", h.authed(h.list))
	mux.HandleFunc("GET "+prefix+"/recipient/{address}", h.authed(h.recipient))
	mux.HandleFunc("POST "+prefix+"/recipient/{address}/lift", h.authed(h.lift))
	mux.HandleFunc("POST "+prefix+"/suppress", h.authed(h.suppress))
	mux.HandleFunc("GET "+prefix+"/lift", h.authed(h.bulkLift))
	mux.HandleFunc("POST "+prefix+"/lift", h.authed(h.bulkLift))
	mux.HandleFunc("GET "+prefix+"/message/{id}", h.authed(h.message))
	mux.HandleFunc("GET "+prefix+"/message/{id}/raw", h.authed(h.rawMessage))
	mux.HandleFunc("GET "+prefix+"/stats", h.authed(h.stats))
	mux.HandleFunc("GET "+prefix+"/reasons", h.authed(h.reasons))
	mux.HandleFunc("GET "+prefix+"/webhooks", h.authed(h.webhooks))
	mux.HandleFunc("GET "+prefix+"/login", h.loginForm)
	mux.HandleFunc("POST "+prefix+"/login", h.login)
	mux.HandleFunc("POST "+prefix+"/logout", h.logout)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET "+prefix+"/static/", http.StripPrefix(prefix+"/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "notFound", "")
	})
	// Go's cross-origin protection (Sec-Fetch-Site, Origin) in front of
	// the CSRF token: a second lock for browsers that send the headers.
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// RedirectRoot answers "/" with a redirect to the admin page.
func RedirectRoot(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, prefix+"/", http.StatusFound)
}

// securityHeaders forbids scripts, framing and type sniffing on every page.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// loopbackOnly is the default Authorize: a request to a loopback address
// is the local admin; any other is refused.
func loopbackOnly(r *http.Request) (string, string, bool) {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if tcp, ok := a.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
			return "", RoleAdmin, true
		}
	}
	return "", "", false
}

// user is who is behind a request.
type user struct {
	Name string
	Role string
}

func (u user) CanWrite() bool { return u.Role == RoleAdmin }

// actor names u in the audit trail.
func (u user) actor() string {
	if u.Name == "" {
		return "admin page"
	}
	return u.Name
}

// who returns the user behind r: Authorize first, then the signed-in
// session of its cookie.
func (h *handler) who(r *http.Request) (user, bool) {
	if name, role, ok := h.opts.Authorize(r); ok {
		return user{name, role}, true
	}
	if h.opts.CheckToken == nil {
		return user{}, false
	}
	if ss := h.sessions.get(r); ss != nil && ss.signedIn {
		return ss.user, true
	}
	return user{}, false
}

type authedFunc func(w http.ResponseWriter, r *http.Request, u user)

// authed runs f for a signed-in user; it sends anyone else to the sign-in
// form (or refuses them when there is none). POSTs must also carry the
// CSRF token and come from an admin.
func (h *handler) authed(f authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.who(r)
		if !ok {
			if h.opts.CheckToken != nil && r.Method == http.MethodGet {
				http.Redirect(w, r, prefix+"/login", http.StatusSeeOther)
				return
			}
			h.fail(w, r, http.StatusForbidden, "forbidden", "")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if ss := h.sessions.get(r); ss == nil || ss.user != u || !ss.validCSRF(r) {
				h.fail(w, r, http.StatusForbidden, "forbidden", "badCSRF")
				return
			}
			if !u.CanWrite() {
				h.fail(w, r, http.StatusForbidden, "forbidden", "needAdmin")
				return
			}
		}
		f(w, r, u)
	}
}

// maxForm bounds the body of a form post: a note of maxNote bytes and
// the rest fit many times over.
const maxForm = 64 << 10

// serverError logs err and answers 500 without its text.
func (h *handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, r.Context().Err()) {
		return // the browser left
	}
	h.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.fail(w, r, http.StatusInternalServerError, "error", "")
}
