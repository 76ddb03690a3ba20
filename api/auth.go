package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
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

// MinTokenBits is the least entropy NewAuth accepts in a token, as
// estimated by tokenBits: 128 bits, the strength of a random AES key,
// beyond guessing however fast the guesses come. `openssl rand -hex 32`
// makes a token of 256.
const MinTokenBits = 128

// AnonymousActor names the caller when no token is configured (open mode).
const AnonymousActor = "anonymous"

// Auth checks bearer tokens. With no token it is open: every request is
// let in as an admin named AnonymousActor (the server refuses to start
// that way unless it listens on loopback; see cmd/bouncesink). Failed
// attempts are counted per client and limited (see failureLimiter).
type Auth struct {
	tokens  []hashedToken
	limiter *failureLimiter
	trusted []netip.Prefix // proxies whose X-Forwarded-For is believed
}

type hashedToken struct {
	name string
	role Role
	sum  [sha256.Size]byte
}

// NewAuth checks the tokens and returns an Auth over them. Names must be
// unique and non-empty, roles read or admin, values distinct and of at
// least MinTokenBits.
func NewAuth(tokens []Token) (*Auth, error) {
	var errs []error
	a := &Auth{limiter: newFailureLimiter(time.Now)}
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
		if err := checkTokenStrength(t.Value); err != nil {
			errs = append(errs, fmt.Errorf("token %q: %w", t.Name, err))
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

// TrustProxies names the reverse proxies whose X-Forwarded-For header
// tells the client's address, for the limit on failed attempts; from
// anyone else the header is ignored. Call it before serving.
func (a *Auth) TrustProxies(p []netip.Prefix) {
	if a != nil {
		a.trusted = p
	}
}

// Authenticate says who made r: the name and role ("read" or "admin") of
// the token in its "Authorization: Bearer" header; ok is false when r
// carries no valid token. When no token is configured every request is
// ok, as AnonymousActor with RoleAdmin. Its signature is
// admin.Options.Authorize's. It counts no failure: the admin page calls
// it on every request, signed in by its own session cookie.
func (a *Auth) Authenticate(r *http.Request) (name, role string, ok bool) {
	if a.Open() {
		return AnonymousActor, string(RoleAdmin), true
	}
	if v, found := bearer(r); found {
		n, rl, ok := a.lookup(v)
		return n, string(rl), ok
	}
	return "", "", false
}

// ErrUnknownToken is CheckToken's answer for a token that is not one of
// the configured ones.
var ErrUnknownToken = errors.New("api: unknown token")

// RateLimitedError is CheckToken's answer to a client that failed too
// often: it may try again after Wait.
type RateLimitedError struct{ Wait time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("api: too many failed attempts; try again in %s", e.Wait.Round(time.Second))
}

// RetryAfter is Wait, for callers that know no api types (the admin page).
func (e *RateLimitedError) RetryAfter() time.Duration { return e.Wait }

// CheckToken returns the name and role of the token whose value is
// token, for a sign-in form made by r (admin.Options.CheckToken). A wrong
// token counts as a failed attempt of r's client; one that failed too
// often gets a *RateLimitedError, whatever the token. With no token
// configured nothing signs in: everyone is let in already.
func (a *Auth) CheckToken(r *http.Request, token string) (name, role string, err error) {
	if a.Open() {
		return "", "", ErrUnknownToken
	}
	client := a.client(r)
	if wait, blocked := a.limiter.blocked(client); blocked {
		return "", "", &RateLimitedError{Wait: wait}
	}
	n, rl, ok := a.lookup(token)
	if !ok {
		a.limiter.failed(client)
		return "", "", ErrUnknownToken
	}
	return n, string(rl), nil
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
// otherwise it answers 401 (no or unknown token), 403 (role too low) or
// 429 (the client sent too many unknown tokens lately).
func (a *Auth) authorize(need Role, next http.Handler) http.Handler {
	if need == rolePublic {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Open() {
			next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), AnonymousActor)))
			return
		}
		v, found := bearer(r)
		if !found {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bouncesink"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token; send \"Authorization: Bearer TOKEN\"")
			return
		}
		name, role, err := a.CheckToken(r, v)
		var limited *RateLimitedError
		switch {
		case errors.As(err, &limited):
			w.Header().Set("Retry-After", strconv.Itoa(int(limited.Wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, "too many unknown tokens from this client; try again later")
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="bouncesink", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown bearer token")
			return
		}
		if !Role(role).allows(need) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("token %q has role %s; this endpoint needs %s", name, role, need))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), name)))
	})
}
