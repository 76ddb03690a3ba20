package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Role is what a token may do.
type Role string

const (
	// RoleRead may check addresses and look things up: every GET, and
	// POST /v1/check.
	RoleRead Role = "read"
	// RoleAdmin may do everything, including changing the suppression list.
	RoleAdmin Role = "admin"
)

// rolePublic marks the routes anyone may call (health check, API document).
const rolePublic Role = ""

// allows reports whether a token of role r may call a route needing need.
func (r Role) allows(need Role) bool {
	switch need {
	case rolePublic:
		return true
	case RoleRead:
		return r == RoleRead || r == RoleAdmin
	default:
		return r == RoleAdmin
	}
}

// Token is one bearer token a client may present.
type Token struct {
	Name  string // who holds it; recorded as the actor of its changes
	Role  Role
	Value string // the secret itself
}

// MinTokenLength is the shortest token NewAuth accepts: 16 random
// characters are beyond guessing over the network.
const MinTokenLength = 16

// AnonymousActor names the caller when no token is configured (open mode).
const AnonymousActor = "anonymous"

// CookieName is the cookie Authenticate accepts besides the Authorization
// header, so that the admin web page can keep a browser signed in.
const CookieName = "bouncesink_token"

// Auth checks bearer tokens. With no token it is open: every request is
// let in as an admin named AnonymousActor (the server refuses to start
// that way unless it listens on loopback; see cmd/bouncesink).
type Auth struct {
	tokens []hashedToken
}

type hashedToken struct {
	name string
	role Role
	sum  [sha256.Size]byte
}

// NewAuth checks the tokens and returns an Auth over them. Names must be
// unique and non-empty, roles read or admin, values distinct and at least
// MinTokenLength long.
func NewAuth(tokens []Token) (*Auth, error) {
	var errs []error
	a := &Auth{}
	names := map[string]bool{}
	sums := map[[sha256.Size]byte]bool{}
	for i, t := range tokens {
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("token %d: empty name", i+1))
		case names[t.Name]:
			errs = append(errs, fmt.Errorf("token %q: name used twice", t.Name))
		}
		names[t.Name] = true
		if t.Role != RoleRead && t.Role != RoleAdmin {
			errs = append(errs, fmt.Errorf("token %q: role %q: want %q or %q", t.Name, t.Role, RoleRead, RoleAdmin))
		}
		if len(t.Value) < MinTokenLength {
			errs = append(errs, fmt.Errorf("token %q: shorter than %d characters", t.Name, MinTokenLength))
		}
		sum := sha256.Sum256([]byte(t.Value))
		if sums[sum] {
			errs = append(errs, fmt.Errorf("token %q: same value as another token", t.Name))
		}
		sums[sum] = true
		a.tokens = append(a.tokens, hashedToken{name: t.Name, role: t.Role, sum: sum})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return a, nil
}

// Open reports whether no token is configured, so every request is let in.
func (a *Auth) Open() bool { return a == nil || len(a.tokens) == 0 }

// Authenticate says who made r: the name and role ("read" or "admin") of
// the token in its "Authorization: Bearer" header, or failing that in its
// bouncesink_token cookie (the admin web page signs browsers in with it).
// ok is false when r carries no valid token. When no token is configured
// every request is ok, as AnonymousActor with RoleAdmin. Its signature is
// admin.Options.Authorize's.
//
// The API itself reads only the header: a cookie is sent by the browser on
// any site's behalf, so a page that accepts it must also check a CSRF token
// on every change it makes.
func (a *Auth) Authenticate(r *http.Request) (name, role string, ok bool) {
	n, rl, ok := a.authenticateHeader(r)
	if !ok {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			n, rl, ok = a.lookup(c.Value)
		}
	}
	return n, string(rl), ok
}

// CheckToken returns the name and role of the token whose value is token,
// for a sign-in form (admin.Options.CheckToken). With no token configured
// nothing signs in: everyone is let in already.
func (a *Auth) CheckToken(token string) (name, role string, ok bool) {
	if a.Open() {
		return "", "", false
	}
	n, rl, ok := a.lookup(token)
	return n, string(rl), ok
}

// authenticateHeader is Authenticate without the cookie, for the API.
func (a *Auth) authenticateHeader(r *http.Request) (name string, role Role, ok bool) {
	if a.Open() {
		return AnonymousActor, RoleAdmin, true
	}
	if v, found := bearer(r); found {
		return a.lookup(v)
	}
	return "", "", false
}

// lookup finds the token whose value is v. It compares SHA-256 sums in
// constant time and always looks at every token, so neither the time taken
// nor an early exit tells an attacker how close a guess came.
func (a *Auth) lookup(v string) (name string, role Role, ok bool) {
	sum := sha256.Sum256([]byte(v))
	match := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", "", false
	}
	return a.tokens[match].name, a.tokens[match].role, true
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authorize lets a request through to next when its token's role allows
// need, with the token's name in its context as the actor (see WithActor);
// otherwise it answers 401 (no or unknown token) or 403 (role too low).
func (a *Auth) authorize(need Role, next http.Handler) http.Handler {
	if need == rolePublic {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, role, ok := a.authenticateHeader(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bouncesink"`)
			writeError(w, http.StatusUnauthorized, "missing or unknown bearer token; send \"Authorization: Bearer TOKEN\"")
			return
		}
		if !role.allows(need) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("token %q has role %s; this endpoint needs %s", name, role, need))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), name)))
	})
}
