package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tokens as `openssl rand -hex 16` and `openssl rand -base64 24` make them.
var (
	readToken  = "9f86d081884c7d659a2feaa0c55ad015"
	adminToken = "q3Jv8kR2bX0mW7tY5nL1pZ4sD6fG9hJc"
)

func testAuth(t *testing.T) *Auth {
	t.Helper()
	a, err := NewAuth([]Token{
		{Name: "mailer", Role: RoleRead, Value: readToken},
		{Name: "ops", Role: RoleAdmin, Value: adminToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewAuthRejectsBadTokens(t *testing.T) {
	long := adminToken
	tests := []struct {
		name    string
		tokens  []Token
		wantErr string
	}{
		{"no name", []Token{{Role: RoleRead, Value: long}}, "empty name"},
		{"same name", []Token{{Name: "a", Role: RoleRead, Value: long}, {Name: "a", Role: RoleRead, Value: readToken}}, "name used twice"},
		{"bad role", []Token{{Name: "a", Role: "write", Value: long}}, `role "write"`},
		{"short", []Token{{Name: "a", Role: RoleRead, Value: "secret"}}, "bits of entropy"},
		// Sixteen characters used to pass; they are at most 95 bits.
		{"sixteen characters", []Token{{Name: "a", Role: RoleRead, Value: "Tr0ub4dor&3xyzQW"}}, "bits of entropy"},
		{"31 hex digits", []Token{{Name: "a", Role: RoleRead, Value: readToken[:31]}}, "bits of entropy"},
		{"one character", []Token{{Name: "a", Role: RoleRead, Value: strings.Repeat("x", 64)}}, "only 1 different characters"},
		{"few characters", []Token{{Name: "a", Role: RoleRead, Value: "read-read-read-read-read-read"}}, "different characters"},
		{"a pattern", []Token{{Name: "a", Role: RoleRead, Value: strings.Repeat("abcdefghijk", 4)}}, "pattern of 11 characters"},
		{"same value", []Token{{Name: "a", Role: RoleRead, Value: long}, {Name: "b", Role: RoleAdmin, Value: long}}, "same value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAuth(tt.tokens); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewAuth = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// Each role reaches what it may and no more; a missing or wrong token is a
// 401 with a WWW-Authenticate challenge, a role too low a 403.
func TestAuthRoles(t *testing.T) {
	h := handler(t, newFake(), Options{Auth: testAuth(t)})
	const (
		none  = ""
		wrong = "wrong-" + "wwwwwwwwwwwwwwwwwwww"
	)
	tests := []struct {
		method, path, body, token string
		want                      int
	}{
		{"GET", "/healthz", "", none, 200},
		{"GET", "/v1/openapi.json", "", none, 200},
		{"GET", "/v1/suppressions/alice@example.org", "", none, 401},
		{"GET", "/v1/suppressions/alice@example.org", "", wrong, 401},
		{"GET", "/v1/suppressions/alice@example.org", "", readToken, 200},
		{"GET", "/v1/suppressions/alice@example.org", "", adminToken, 200},
		{"GET", "/v1/recipients/alice@example.org", "", readToken, 200},
		{"POST", "/v1/check", `{"addresses":["a@example.org"]}`, none, 401},
		{"POST", "/v1/check", `{"addresses":["a@example.org"]}`, readToken, 200},
		{"GET", "/metrics", "", none, 401},
		{"GET", "/metrics", "", readToken, 200},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s %s with token %q = %d %s, want %d", tt.method, tt.path, tt.token, rec.Code, rec.Body, tt.want)
		}
		if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: 401 without a Bearer challenge", tt.method, tt.path)
		}
	}
}

func TestCheckToken(t *testing.T) {
	auth := testAuth(t)
	req := httptest.NewRequest("POST", "/admin/login", nil)
	if name, role, err := auth.CheckToken(req, adminToken); name != "ops" || role != "admin" || err != nil {
		t.Errorf("CheckToken(admin) = %q %q %v", name, role, err)
	}
	if _, _, err := auth.CheckToken(req, adminToken+"x"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("CheckToken of a wrong token = %v, want ErrUnknownToken", err)
	}
	if _, _, err := mustAuth(t, nil).CheckToken(req, adminToken); err == nil {
		t.Error("CheckToken signed in with no token configured")
	}
}

// A client that keeps presenting unknown tokens is answered 429 for a
// while, even with a good token (its guesses would tell it nothing), and
// other clients are not held up. Behind a trusted proxy the client is the
// address the proxy names.
func TestFailedAttemptsLimited(t *testing.T) {
	auth := testAuth(t)
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	auth.limiter.now = func() time.Time { return clock }
	auth.TrustProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")})
	h := handler(t, newFake(), Options{Auth: auth})
	get := func(from, forwarded, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/v1/suppressions/alice@example.org", nil)
		req.RemoteAddr = from + ":40000"
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range failureBurst {
		if rec := get("192.0.2.1", "", "guess"+strconv.Itoa(i)); rec.Code != 401 {
			t.Fatalf("guess %d = %d, want 401", i, rec.Code)
		}
	}
	rec := get("192.0.2.1", "", readToken)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("after %d guesses, the right token = %d %s (Retry-After %q), want 429 with a JSON error", failureBurst, rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if rec := get("192.0.2.2", "", readToken); rec.Code != 200 {
		t.Errorf("another client = %d, want 200", rec.Code)
	}
	// X-Forwarded-For from an untrusted peer is ignored: 192.0.2.1 is
	// still itself, whatever it claims.
	if rec := get("192.0.2.1", "198.51.100.7", readToken); rec.Code != 429 {
		t.Errorf("a spoofed X-Forwarded-For = %d, want 429", rec.Code)
	}
	// Through the trusted proxy, each client is the address it names.
	for i := range failureBurst {
		get("10.0.0.1", "198.51.100.7", "guess"+strconv.Itoa(i))
	}
	if rec := get("10.0.0.1", "198.51.100.7", readToken); rec.Code != 429 {
		t.Errorf("a guessing client behind the proxy = %d, want 429", rec.Code)
	}
	if rec := get("10.0.0.1", "198.51.100.8", readToken); rec.Code != 200 {
		t.Errorf("another client behind the same proxy = %d, want 200", rec.Code)
	}
	// The attempts come back with time.
	clock = clock.Add(failureEvery + time.Second)
	if rec := get("192.0.2.1", "", readToken); rec.Code != 200 {
		t.Errorf("a while later = %d, want 200", rec.Code)
	}
}

// An admin-only route refuses a read token with 403 and lets an admin
// token through with its name as the actor.
func TestAuthorizeAdminRoute(t *testing.T) {
	auth := testAuth(t)
	var actor string
	h := auth.authorize(RoleAdmin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor = ActorFrom(r.Context())
	}))
	for _, tt := range []struct {
		token     string
		want      int
		wantActor string
	}{
		{readToken, 403, ""},
		{adminToken, 200, "ops"},
	} {
		actor = ""
		req := httptest.NewRequest("PUT", "/v1/suppressions/a@example.org", nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want || actor != tt.wantActor {
			t.Errorf("token %q: %d %s actor %q, want %d actor %q", tt.token, rec.Code, rec.Body, actor, tt.want, tt.wantActor)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	auth := testAuth(t)
	tests := []struct {
		name     string
		set      func(*http.Request)
		wantName string
		wantRole string
		wantOK   bool
	}{
		{"nothing", func(*http.Request) {}, "", "", false},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) }, "ops", "admin", true},
		{"lower-case scheme", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+readToken) }, "mailer", "read", true},
		{"basic scheme", func(r *http.Request) { r.Header.Set("Authorization", "Basic "+readToken) }, "", "", false},
		// The admin page keeps sessions of its own: a token in a cookie
		// signs nobody in.
		{"cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "bouncesink_token", Value: readToken}) }, "", "", false},
		{"prefix of a token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken[:len(adminToken)-1]) }, "", "", false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/admin/", nil)
		tt.set(req)
		name, role, ok := auth.Authenticate(req)
		if name != tt.wantName || role != tt.wantRole || ok != tt.wantOK {
			t.Errorf("%s: Authenticate = %q %q %v, want %q %q %v", tt.name, name, role, ok, tt.wantName, tt.wantRole, tt.wantOK)
		}
	}
}

// The API reads only the Authorization header: a cookie the browser
// attaches on any site's behalf must not authorize a change.
func TestAPIIgnoresCookie(t *testing.T) {
	h := handler(t, newFake(), Options{Auth: testAuth(t)})
	req := httptest.NewRequest("GET", "/v1/suppressions/alice@example.org", nil)
	req.AddCookie(&http.Cookie{Name: "bouncesink_token", Value: adminToken})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("GET with only the cookie = %d, want 401", rec.Code)
	}
}

// With no token configured everything is open, as an anonymous admin.
func TestAuthOpen(t *testing.T) {
	for _, a := range []*Auth{nil, mustAuth(t, nil)} {
		if !a.Open() {
			t.Errorf("Auth %v is not open", a)
		}
		name, role, ok := a.Authenticate(httptest.NewRequest("GET", "/", nil))
		if name != AnonymousActor || role != "admin" || !ok {
			t.Errorf("open Authenticate = %q %q %v", name, role, ok)
		}
	}
	if got := ActorFrom(context.Background()); got != "api" {
		t.Errorf("ActorFrom(no actor) = %q, want api", got)
	}
}

func mustAuth(t *testing.T, tokens []Token) *Auth {
	a, err := NewAuth(tokens)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
