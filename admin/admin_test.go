package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// now is the test clock: the store stamps admin actions with it, and the
// statistics page counts the days up to it.
var now = time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC)

// fixture is a store with bounces recorded for a few recipients:
// alice and bob at example.org suppressed after two hard bounces, carol
// at example.net after a complaint, and dave blocked (never suppressed).
func fixture(t testing.TB) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "test.db"), boltstore.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := func(at time.Time, raw string, obs ...store.Observation) {
		t.Helper()
		if _, err := db.Record(context.Background(), store.Message{Received: at, EnvelopeTo: []string{"bounces@news.example.com"},
			Raw: []byte(raw), Observations: obs}); err != nil {
			t.Fatal(err)
		}
	}
	hard := func(addr string) store.Observation {
		return store.Observation{Recipient: addr, Class: "hard", Reason: "user_unknown", Status: "5.1.1",
			SMTPCode: 550, Action: "failed", Diagnostic: "550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown",
			RemoteMTA: "mx.example.org", Decoder: "dsn", Rule: "status", Detail: "X.1.1"}
	}
	for i, addr := range []string{"alice@example.org", "bob@example.org"} {
		for n := 2; n > 0; n-- { // oldest first, as they would arrive
			at := now.Add(-time.Duration(48*n+i) * time.Hour)
			rec(at, "From: MAILER-DAEMON@example.org\r\nSubject: Undelivered <script>alert(1)</script>\r\n\r\nbody for "+addr+"\r\n", hard(addr))
		}
	}
	rec(now.Add(-24*time.Hour), "Content-Type: multipart/report; report-type=feedback-report\r\n\r\nspam report\r\n",
		store.Observation{Recipient: "carol@example.net", Class: "complaint", Reason: "feedback", FeedbackType: "abuse", Decoder: "arf"})
	rec(now.Add(-2*time.Hour), "Subject: blocked\r\n\r\n554 5.7.1 listed\r\n",
		store.Observation{Recipient: "dave@example.com", Class: "block", Reason: "ip_blocklisted", Status: "5.7.1",
			SMTPCode: 554, Diagnostic: "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org", Decoder: "postfix", Rule: "blocklist"})
	return db
}

func asAdmin(*http.Request) (string, string, bool)  { return "tester", RoleAdmin, true }
func asReader(*http.Request) (string, string, bool) { return "viewer", RoleRead, true }

func newTestHandler(t testing.TB, db *boltstore.DB, o Options) http.Handler {
	if o.Authorize == nil {
		o.Authorize = asAdmin
	}
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Now = func() time.Time { return now }
	return New(FromStore(db), o)
}

// client is a browser session against h: it keeps cookies and the last
// page's CSRF token.
type client struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]*http.Cookie
	lang    string
}

func newClient(t testing.TB, h http.Handler) *client {
	return &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

func (c *client) do(r *http.Request) *httptest.ResponseRecorder {
	for _, ck := range c.cookies {
		r.AddCookie(ck)
	}
	if c.lang != "" {
		r.Header.Set("Accept-Language", c.lang)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		c.cookies[ck.Name] = ck
	}
	return w
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	w := c.do(httptest.NewRequest("GET", path, nil))
	return w.Code, w.Body.String()
}

func (c *client) post(path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(r)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token returns the CSRF token of the form on the page at path.
func (c *client) token(path string) string {
	c.t.Helper()
	_, body := c.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF field on %s", path)
	}
	return m[1]
}

func wantIn(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func wantNotIn(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page has %q", w)
		}
	}
}

func TestList(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	code, body := c.get("/admin/")
	if code != 200 {
		t.Fatalf("GET /admin/: %d", code)
	}
	wantIn(t, body, "alice@example.org", "bob@example.org", "carol@example.net", `<strong id="total">3</strong>`,
		`href="/admin/recipient/alice@example.org"`, "user_unknown")
	wantNotIn(t, body, "dave@example.com") // blocked, never suppressed
}

func TestListSearchAndFilters(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	for _, tc := range []struct {
		query      string
		want, miss []string
	}{
		{"q=ALI", []string{"alice@example.org"}, []string{"bob@example.org", "carol@example.net"}},
		{"q=example.", []string{"alice@example.org", "bob@example.org", "carol@example.net"}, nil},
		{"reason=complaint", []string{"carol@example.net"}, []string{"alice@example.org"}},
		{"domain=example.org", []string{"alice@example.org", "bob@example.org"}, []string{"carol@example.net"}},
		{"domain=example.org&q=bob", []string{"bob@example.org"}, []string{"alice@example.org"}},
		{"q=nobody", []string{"No suppressed address matches."}, []string{"alice@example.org"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, body := c.get("/admin/?" + tc.query)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			wantIn(t, body, tc.want...)
			wantNotIn(t, body, tc.miss...)
		})
	}
}

func TestListSortAndPages(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{PageSize: 2}))
	order := func(body string) []string {
		return regexp.MustCompile(`class="addr"><a href="[^"]+">([^<]+)</a>`).FindAllString(body, -1)
	}
	_, body := c.get("/admin/?sort=address&dir=desc")
	got := order(body)
	if len(got) != 2 || !strings.Contains(got[0], "carol") || !strings.Contains(got[1], "bob") {
		t.Errorf("address descending, page 1: %v", got)
	}
	wantIn(t, body, "Page 1 of 2", `rel="next"`, "?dir=desc&amp;page=2&amp;sort=address")
	_, body = c.get("/admin/?sort=address&dir=desc&page=2")
	if got := order(body); len(got) != 1 || !strings.Contains(got[0], "alice") {
		t.Errorf("address descending, page 2: %v", got)
	}
	wantIn(t, body, `rel="prev"`)
	// Newest suppression first: carol's complaint came last.
	_, body = c.get("/admin/?sort=since&dir=desc")
	if got := order(body); len(got) == 0 || !strings.Contains(got[0], "carol") {
		t.Errorf("since descending: %v", got)
	}
}

func TestRecipientTimeline(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	code, body := c.get("/admin/recipient/Alice@Example.org")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	wantIn(t, body, `id="address">alice@example.org`, "Suppressed", "5.1.1", "(550)", "user_unknown",
		"dsn", "status", "X.1.1", "Recipient address rejected: User unknown", "mx.example.org",
		`href="/admin/message/1?from=alice%40example.org"`, `href="/admin/message/2?from=alice%40example.org"`,
		reasonsEN[classify.UserUnknown].Cause, reasonsEN[classify.UserUnknown].Remedy, `id="lift-form"`,
		"Audit trail", "<td><code>suppress</code></td>\n  <td>policy</td>")

	if code, body := c.get("/admin/recipient/nobody@example.org"); code != 404 || !strings.Contains(body, "never seen") {
		t.Errorf("unknown recipient: %d", code)
	}
	if code, _ := c.get("/admin/recipient/not-an-address"); code != 400 {
		t.Errorf("invalid address: %d, want 400", code)
	}
}

func TestRawMessageEscaped(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	code, body := c.get("/admin/message/1")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	wantIn(t, body, "Undelivered &lt;script&gt;alert(1)&lt;/script&gt;", "body for alice@example.org")
	wantNotIn(t, body, "<script>")

	w := c.do(httptest.NewRequest("GET", "/admin/message/1/raw", nil))
	if w.Code != 200 {
		t.Fatalf("raw: status %d", w.Code)
	}
	h := w.Result().Header
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("raw Content-Type %q", ct)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("raw view may be sniffed or run: %v", h)
	}
	if !strings.Contains(w.Body.String(), "Subject: Undelivered <script>alert(1)</script>\r\n") {
		t.Errorf("raw view is not the message as received: %q", w.Body.String())
	}
	for _, p := range []string{"/admin/message/99", "/admin/message/x", "/admin/message/0/raw"} {
		if code, _ := c.get(p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

func TestLiftNeedsCSRF(t *testing.T) {
	db := fixture(t)
	c := newClient(t, newTestHandler(t, db, Options{}))
	path := "/admin/recipient/alice@example.org"
	tok := c.token(path)

	stillSuppressed := func() {
		t.Helper()
		if _, err := db.Suppression(context.Background(), "alice@example.org"); err != nil {
			t.Fatalf("alice is no longer suppressed: %v", err)
		}
	}
	// No token, a wrong token, and the right token without its session.
	for name, tc := range map[string]struct {
		form  url.Values
		strip bool
	}{
		"no token":      {url.Values{"note": {"x"}}, false},
		"wrong token":   {url.Values{"note": {"x"}, "csrf": {tok + "x"}}, false},
		"other session": {url.Values{"note": {"x"}, "csrf": {tok}}, true},
	} {
		cl := c
		if tc.strip {
			cl = newClient(t, c.h)
			cl.token("/admin/") // a session of its own
		}
		if w := cl.post(path+"/lift", tc.form); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, w.Code)
		}
		stillSuppressed()
	}
	// A cross-site form post is refused even with a token.
	r := httptest.NewRequest("POST", path+"/lift", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if w := c.do(r); w.Code != http.StatusForbidden {
		t.Errorf("cross-site: %d, want 403", w.Code)
	}
	stillSuppressed()

	w := c.post(path+"/lift", url.Values{"note": {"asked by phone"}, "csrf": {tok}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != path+"?done=lifted" {
		t.Fatalf("lift: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if _, err := db.Suppression(context.Background(), "alice@example.org"); err != store.ErrNotFound && !strings.Contains(errString(err), "not found") {
		t.Fatalf("after lift: %v, want not found", err)
	}
	_, body := c.get(path + "?done=lifted")
	wantIn(t, body, "Suppression lifted.", "Not suppressed", "asked by phone", `id="add-form"`,
		"<td><code>lift</code></td>\n  <td>tester</td>") // the audit trail names who lifted it
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSuppressNeedsCSRF(t *testing.T) {
	db := fixture(t)
	c := newClient(t, newTestHandler(t, db, Options{}))
	tok := c.token("/admin/")
	form := url.Values{"address": {"Eve@Example.com"}, "reason": {"request"}, "note": {"unsubscribed by mail"}}
	if w := c.post("/admin/suppress", form); w.Code != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", w.Code)
	}
	if _, err := db.Suppression(context.Background(), "eve@example.com"); err == nil {
		t.Fatal("suppressed without a CSRF token")
	}
	form.Set("csrf", tok)
	w := c.post("/admin/suppress", form)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("suppress: %d", w.Code)
	}
	s, err := db.Suppression(context.Background(), "eve@example.com")
	if err != nil || s.Reason != "manual" || s.Detail != "request" {
		t.Fatalf("after suppress: %+v, %v", s, err)
	}
	form.Set("address", "not an address")
	if w := c.post("/admin/suppress", form); w.Code != http.StatusBadRequest {
		t.Errorf("invalid address: %d, want 400", w.Code)
	}
}

func TestReadRoleCannotChange(t *testing.T) {
	db := fixture(t)
	role := RoleAdmin
	c := newClient(t, newTestHandler(t, db, Options{Authorize: func(*http.Request) (string, string, bool) {
		return "someone", role, true
	}}))
	path := "/admin/recipient/alice@example.org"
	tok := c.token(path) // a valid token, taken while an admin
	role = RoleRead
	_, body := c.get(path)
	wantIn(t, body, "Read-only")
	wantNotIn(t, body, `id="lift-form"`, `name="csrf"`)
	if w := c.post(path+"/lift", url.Values{"csrf": {tok}}); w.Code != http.StatusForbidden {
		t.Errorf("lift as reader: %d, want 403", w.Code)
	}
	if _, err := db.Suppression(context.Background(), "alice@example.org"); err != nil {
		t.Fatal("a reader lifted a suppression")
	}
	if w := c.post("/admin/suppress", url.Values{"csrf": {tok}, "address": {"x@example.org"}}); w.Code != http.StatusForbidden {
		t.Errorf("suppress as reader: %d, want 403", w.Code)
	}
}

func TestLanguage(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	uu := classify.UserUnknown
	for _, tc := range []struct {
		accept     string
		want, miss Explanation
		tag        string
	}{
		{"ja", reasonsJA[uu], reasonsEN[uu], "ja"},
		{"ja-JP,ja;q=0.9,en;q=0.8", reasonsJA[uu], reasonsEN[uu], "ja"},
		{"en-US,en;q=0.9,ja;q=0.5", reasonsEN[uu], reasonsJA[uu], "en"},
		{"fr-FR, ja;q=0.3", reasonsJA[uu], reasonsEN[uu], "ja"},
		{"de", reasonsEN[uu], reasonsJA[uu], "en"},
		{"", reasonsEN[uu], reasonsJA[uu], "en"},
	} {
		c.lang = tc.accept
		code, body := c.get("/admin/recipient/alice@example.org")
		if code != 200 {
			t.Fatalf("%q: status %d", tc.accept, code)
		}
		wantIn(t, body, `<html lang="`+tc.tag+`">`, tc.want.Cause, tc.want.Remedy)
		wantNotIn(t, body, tc.miss.Cause)
	}
	c.lang = "ja"
	_, body := c.get("/admin/reasons")
	wantIn(t, body, "理由の一覧", reasonsJA[classify.IPBlocklisted].Remedy, "<code>ip_blocklisted</code>")
}

// Every reason token the classifier can give has a cause and a remedy in
// both languages, and both languages label the page alike.
func TestEveryReasonExplained(t *testing.T) {
	for _, l := range []lang{english, japanese} {
		for _, r := range classify.Reasons() {
			e, ok := l.Explain(string(r))
			if !ok || strings.TrimSpace(e.Cause) == "" || strings.TrimSpace(e.Remedy) == "" {
				t.Errorf("%s: reason %q has no cause or remedy", l.Tag, r)
			}
		}
		if len(l.reasons) != len(classify.Reasons()) {
			t.Errorf("%s: %d texts for %d reasons", l.Tag, len(l.reasons), len(classify.Reasons()))
		}
	}
	for k := range uiEN {
		if uiJA[k] == "" {
			t.Errorf("ja lacks UI string %q", k)
		}
	}
	for k := range uiJA {
		if uiEN[k] == "" {
			t.Errorf("en lacks UI string %q", k)
		}
	}
}

func TestStatsPage(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	code, body := c.get("/admin/stats")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	wantIn(t, body, `<svg class="chart"`, `<rect class="c-hard"`, `<rect class="c-block"`, "2025-03-18 hard: 2",
		`href="/admin/?domain=example.org">example.org</a>`, `<td class="num">4</td>`, "example.com",
		`<span class="pill c-block">1</span>`, "ip_blocklisted")
}

func TestAccessControl(t *testing.T) {
	db := fixture(t)
	// Default: open on loopback only. A real server on 127.0.0.1 is loopback.
	srv := httptest.NewServer(New(FromStore(db), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("loopback: %d, want 200", resp.StatusCode)
	}
	// A request with no loopback local address (as from another host).
	h := New(FromStore(db), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/admin/", nil))
	if w.Code != http.StatusForbidden {
		t.Errorf("not loopback: %d, want 403", w.Code)
	}
}

// checkSecret is a CheckToken that knows one token, and answers like
// api.Auth to a client that failed too often.
func checkSecret(secret string, limited *bool) func(*http.Request, string) (string, string, error) {
	return func(r *http.Request, tok string) (string, string, error) {
		if limited != nil && *limited {
			return "", "", rateLimited{}
		}
		if tok == secret {
			return "ops", RoleAdmin, nil
		}
		return "", "", errors.New("unknown token")
	}
}

type rateLimited struct{}

func (rateLimited) Error() string             { return "too many" }
func (rateLimited) RetryAfter() time.Duration { return 30 * time.Second }

func nobody(*http.Request) (string, string, bool) { return "", "", false }

func TestLogin(t *testing.T) {
	db := fixture(t)
	const secret = "0123456789abcdef-admin"
	h := newTestHandler(t, db, Options{Authorize: nobody, CheckToken: checkSecret(secret, nil)})
	c := newClient(t, h)
	w := c.do(httptest.NewRequest("GET", "/admin/", nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login" {
		t.Fatalf("signed out: %d to %q, want the sign-in form", w.Code, w.Header().Get("Location"))
	}
	tok := c.token("/admin/login")
	before := c.cookies[sessionCookie].Value
	if w := c.post("/admin/login", url.Values{"token": {"wrong"}, "csrf": {tok}}); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", w.Code)
	}
	if w := c.post("/admin/login", url.Values{"token": {secret}}); w.Code != http.StatusForbidden {
		t.Errorf("login without CSRF token: %d, want 403", w.Code)
	}
	w = c.post("/admin/login", url.Values{"token": {secret}, "csrf": {tok}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", w.Code)
	}
	// The cookie holds a new random session id, never the token.
	ck := c.cookies[sessionCookie]
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Value == secret ||
		strings.Contains(ck.Value, secret) || ck.Value == before || len(ck.Value) < 40 || ck.MaxAge != int(DefaultSessionLifetime.Seconds()) {
		t.Fatalf("session cookie %+v, want a new random HttpOnly, SameSite=Strict id with an expiry", ck)
	}
	for _, cookie := range w.Result().Cookies() {
		if strings.Contains(cookie.Value, secret) {
			t.Errorf("a cookie carries the token: %+v", cookie)
		}
	}
	code, body := c.get("/admin/")
	if code != 200 {
		t.Fatalf("signed in: %d", code)
	}
	wantIn(t, body, "Signed in as <strong>ops</strong>")
	// The form token of the session before signing in is void now.
	if w := c.post("/admin/logout", url.Values{"csrf": {tok}}); w.Code != http.StatusForbidden {
		t.Errorf("logout with the token of the session before sign-in: %d, want 403", w.Code)
	}
	signedIn := *c.cookies[sessionCookie]
	if w := c.post("/admin/logout", url.Values{"csrf": {c.token("/admin/")}}); w.Code != http.StatusSeeOther {
		t.Errorf("logout: %d", w.Code)
	}
	if w := c.do(httptest.NewRequest("GET", "/admin/", nil)); w.Code != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to sign in", w.Code)
	}
	// Logout revoked the session on the server: its id, replayed, signs
	// in no one.
	replay := newClient(t, h)
	replay.cookies[sessionCookie] = &signedIn
	if w := replay.do(httptest.NewRequest("GET", "/admin/", nil)); w.Code != http.StatusSeeOther {
		t.Errorf("the session id replayed after logout: %d, want a redirect to sign in", w.Code)
	}
}

// A sign-in lasts SessionLifetime, then the page asks again.
func TestSessionExpires(t *testing.T) {
	clock := now
	const secret = "0123456789abcdef-admin"
	h := New(FromStore(fixture(t)), Options{Authorize: nobody, CheckToken: checkSecret(secret, nil),
		Now: func() time.Time { return clock }, SessionLifetime: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c := newClient(t, h)
	if w := c.post("/admin/login", url.Values{"token": {secret}, "csrf": {c.token("/admin/login")}}); w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", w.Code)
	}
	clock = clock.Add(59 * time.Minute)
	if code, _ := c.get("/admin/"); code != 200 {
		t.Errorf("within the lifetime: %d, want 200", code)
	}
	clock = clock.Add(2 * time.Minute)
	if w := c.do(httptest.NewRequest("GET", "/admin/", nil)); w.Code != http.StatusSeeOther {
		t.Errorf("after the lifetime: %d, want a redirect to sign in", w.Code)
	}
}

// A session id the server did not make is no session: a cookie planted
// from a sibling domain yields no valid form token, and the sign-in form
// gets a session of the server's own.
func TestPlantedSessionIsIgnored(t *testing.T) {
	const secret = "0123456789abcdef-admin"
	h := newTestHandler(t, fixture(t), Options{Authorize: nobody, CheckToken: checkSecret(secret, nil)})
	c := newClient(t, h)
	c.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: "planted-by-the-attacker"}
	tok := c.token("/admin/login")
	if got := c.cookies[sessionCookie].Value; got == "planted-by-the-attacker" {
		t.Fatal("the planted session id was kept")
	}
	attacker := newClient(t, h)
	attacker.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: "planted-by-the-attacker"}
	if w := attacker.post("/admin/login", url.Values{"token": {secret}, "csrf": {tok}}); w.Code != http.StatusForbidden {
		t.Errorf("sign-in with a planted session and another's form token: %d, want 403", w.Code)
	}
}

// A form token is good only for the user whose session showed it.
func TestCSRFBoundToUser(t *testing.T) {
	db := fixture(t)
	name := "ann"
	h := newTestHandler(t, db, Options{Authorize: func(*http.Request) (string, string, bool) { return name, RoleAdmin, true }})
	c := newClient(t, h)
	path := "/admin/recipient/alice@example.org"
	tok := c.token(path) // ann's
	name = "ben"
	if w := c.post(path+"/lift", url.Values{"csrf": {tok}}); w.Code != http.StatusForbidden {
		t.Errorf("ben posting ann's form token: %d, want 403", w.Code)
	}
	if _, err := db.Suppression(context.Background(), "alice@example.org"); err != nil {
		t.Fatal("ben lifted a suppression with ann's form")
	}
	if w := c.post(path+"/lift", url.Values{"csrf": {c.token(path)}}); w.Code != http.StatusSeeOther {
		t.Errorf("ben with his own form: %d, want 303", w.Code)
	}
}

// Cookies are Secure over TLS, and behind a trusted proxy that says the
// browser used https; a client's own X-Forwarded-Proto changes nothing.
func TestSecureCookie(t *testing.T) {
	h := newTestHandler(t, fixture(t), Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, tt := range []struct {
		name   string
		set    func(*http.Request)
		secure bool
	}{
		{"plain http", func(*http.Request) {}, false},
		{"tls", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"trusted proxy, https", func(r *http.Request) { r.RemoteAddr = "10.1.2.3:5000"; r.Header.Set("X-Forwarded-Proto", "https") }, true},
		{"trusted proxy, http", func(r *http.Request) { r.RemoteAddr = "10.1.2.3:5000"; r.Header.Set("X-Forwarded-Proto", "http") }, false},
		{"anyone else saying https", func(r *http.Request) { r.RemoteAddr = "192.0.2.9:5000"; r.Header.Set("X-Forwarded-Proto", "https") }, false},
	} {
		r := httptest.NewRequest("GET", "/admin/", nil)
		tt.set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var ck *http.Cookie
		for _, c := range w.Result().Cookies() {
			if c.Name == sessionCookie {
				ck = c
			}
		}
		if ck == nil || ck.Secure != tt.secure {
			t.Errorf("%s: session cookie %+v, want Secure %v", tt.name, ck, tt.secure)
		}
	}
}

// A client that failed too often is told so (429), whatever it types.
func TestLoginRateLimited(t *testing.T) {
	const secret = "0123456789abcdef-admin"
	limited := false
	h := newTestHandler(t, fixture(t), Options{Authorize: nobody, CheckToken: checkSecret(secret, &limited)})
	c := newClient(t, h)
	tok := c.token("/admin/login")
	limited = true
	w := c.post("/admin/login", url.Values{"token": {secret}, "csrf": {tok}})
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "31" || !strings.Contains(w.Body.String(), "Too many wrong tokens") {
		t.Errorf("rate-limited sign-in: %d (Retry-After %q), want 429 saying so", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestPickLang(t *testing.T) {
	for accept, want := range map[string]string{
		"": "en", "ja": "ja", "JA-jp": "ja", "en;q=0.9, ja": "ja", "ja;q=0, en": "en",
		"ja;q=0.2, en;q=0.8": "en", "zh, ko": "en", "*": "en", "ja;q=bad, en": "en",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", accept)
		if got := pickLang(r).Tag; got != want {
			t.Errorf("Accept-Language %q: %s, want %s", accept, got, want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int]int{0: 4, 3: 4, 5: 8, 8: 8, 9: 20, 21: 40, 41: 80, 81: 200, 1000: 2000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}
