package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Sessions live on the server: the browser holds only a random id in an
// HttpOnly cookie. A session is bound to one user (a signed-in token's
// name and role, or whoever Options.Authorize says the request is) and
// carries the CSRF token of the forms it is shown; a form posted by a
// session of another user, or with another token, is refused. Signing in
// replaces the session that showed the form by a new one, signing out
// deletes it, so neither a planted cookie nor an old id survives either.
// Sessions are in memory: a restart signs everyone out and voids open
// forms (the page then says to reload).

const (
	sessionCookie = "bouncesink_session"
	csrfField     = "csrf"
	// DefaultSessionLifetime is how long a sign-in lasts.
	DefaultSessionLifetime = 12 * time.Hour
	// anonLifetime is how long a session that is not signed in (the
	// sign-in form's) lasts.
	anonLifetime = time.Hour
	// maxSessions bounds each kind of session kept: past it the oldest
	// is dropped, so a client making sessions cannot exhaust memory.
	maxSessions = 10000
)

type session struct {
	id       string
	user     user
	signedIn bool // made by signing in with a token
	csrf     string
	created  time.Time
	expires  time.Time
}

type sessions struct {
	mu       sync.Mutex
	byID     map[string]*session
	count    [2]int // anonymous, signed in
	now      func() time.Time
	lifetime time.Duration
}

func newSessions(now func() time.Time, lifetime time.Duration) *sessions {
	return &sessions{byID: make(map[string]*session), now: now, lifetime: lifetime}
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func kind(signedIn bool) int {
	if signedIn {
		return 1
	}
	return 0
}

// get returns the live session of r's cookie, nil if there is none.
func (s *sessions) get(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[ck.Value]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		s.drop(ss)
		return nil
	}
	return ss
}

// start makes a new session for u and sets its cookie on w.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, u user, signedIn bool, secure bool) *session {
	now := s.now()
	life := anonLifetime
	if u.Role != "" {
		life = s.lifetime
	}
	ss := &session{id: randomID(), user: u, signedIn: signedIn, csrf: randomID(), created: now, expires: now.Add(life)}
	s.mu.Lock()
	if s.count[kind(signedIn)] >= maxSessions {
		s.dropOldest(signedIn, now)
	}
	s.byID[ss.id] = ss
	s.count[kind(signedIn)]++
	s.mu.Unlock()
	// Max-Age, not Expires: the browser's clock need not agree with ours.
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: ss.id, Path: prefix + "/", MaxAge: int(life.Seconds()),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode,
	})
	return ss
}

// remove deletes ss.
func (s *sessions) remove(ss *session) {
	s.mu.Lock()
	s.drop(ss)
	s.mu.Unlock()
}

// end deletes ss and tells the browser to forget its cookie.
func (s *sessions) end(w http.ResponseWriter, ss *session, secure bool) {
	s.remove(ss)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: prefix + "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

func (s *sessions) drop(ss *session) {
	if s.byID[ss.id] == ss {
		delete(s.byID, ss.id)
		s.count[kind(ss.signedIn)]--
	}
}

// dropOldest drops the expired sessions of a kind, or failing that the
// oldest one.
func (s *sessions) dropOldest(signedIn bool, now time.Time) {
	var oldest *session
	for _, ss := range s.byID {
		if ss.signedIn != signedIn {
			continue
		}
		if !now.Before(ss.expires) {
			s.drop(ss)
			continue
		}
		if oldest == nil || ss.created.Before(oldest.created) {
			oldest = ss
		}
	}
	if s.count[kind(signedIn)] >= maxSessions && oldest != nil {
		s.drop(oldest)
	}
}

// validCSRF says whether the form of r carries ss's CSRF token.
func (ss *session) validCSRF(r *http.Request) bool {
	got := r.PostFormValue(csrfField)
	return ss != nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) == 1
}

// formSession returns the session whose CSRF token the page for u shows:
// r's own when it belongs to u, else a new one (whose cookie is set on w).
func (h *handler) formSession(w http.ResponseWriter, r *http.Request, u user) *session {
	if ss := h.sessions.get(r); ss != nil && ss.user == u {
		return ss
	}
	return h.sessions.start(w, r, u, false, h.secure(r))
}

// secure says whether the browser reached the page over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto. Cookies are
// then marked Secure. The header of anyone else is ignored: a client
// could send it to anything.
func (h *handler) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	peer = peer.Unmap()
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(peer) {
			return r.Header.Get("X-Forwarded-Proto") == "https"
		}
	}
	return false
}
