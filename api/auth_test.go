package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var (
	readToken  = "read-" + strings.Repeat("r", 20)
	adminToken = "admin-" + strings.Repeat("a", 20)
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
	long := strings.Repeat("x", MinTokenLength)
	tests := []struct {
		name    string
		tokens  []Token
		wantErr string
	}{
		{"no name", []Token{{Role: RoleRead, Value: long}}, "empty name"},
		{"same name", []Token{{Name: "a", Role: RoleRead, Value: long}, {Name: "a", Role: RoleRead, Value: long + "y"}}, "name used twice"},
		{"bad role", []Token{{Name: "a", Role: "write", Value: long}}, `role "write"`},
		{"short", []Token{{Name: "a", Role: RoleRead, Value: "secret"}}, "shorter than 16"},
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
	if name, role, ok := auth.CheckToken(adminToken); name != "ops" || role != "admin" || !ok {
		t.Errorf("CheckToken(admin) = %q %q %v", name, role, ok)
	}
	if _, _, ok := auth.CheckToken(adminToken + "x"); ok {
		t.Error("CheckToken accepted a wrong token")
	}
	if _, _, ok := mustAuth(t, nil).CheckToken(adminToken); ok {
		t.Error("CheckToken with no tokens configured accepted one")
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
		{"cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: readToken}) }, "mailer", "read", true},
		{"wrong cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: "x" + readToken}) }, "", "", false},
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
	req.AddCookie(&http.Cookie{Name: CookieName, Value: adminToken})
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
