package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/store/boltstore"
	"github.com/bouncesink/bouncesink/webhook"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser test leaves its screenshots:
// $BOUNCESINK_SCREENSHOTS, or bouncesink-admin in the system's temporary
// directory (outside the repository, kept after the test for people to
// look at).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("BOUNCESINK_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "bouncesink-admin")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowser drives a real headless chromium against the admin page and
// the API on one HTTP server over a store with recorded bounces: it opens
// the list, searches, opens a recipient, lifts the suppression, and checks
// through the API that the address is no longer suppressed; searches an
// address that was never suppressed and lands on its page; reads the
// statistics by class and reason and the webhooks page with a dead
// letter; and, on a server with tokens, signs in and out.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is missing at %s in CI: .ci/run should have installed it (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("chromium is not installed at %s (apt-get install chromium); skipping the browser test", chromiumPath)
	}
	db := fixture(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hooks := deadLetterDispatcher(t, db, log)
	mux := http.NewServeMux()
	mux.Handle("/admin/", New(FromStore(db), Options{Logger: log, Now: func() time.Time { return now }, Webhooks: hooks}))
	mux.HandleFunc("GET /{$}", RedirectRoot)
	mux.Handle("/", api.NewHandler(db, api.Options{Logger: log}))
	srv := httptest.NewServer(mux) // on 127.0.0.1: the admin page is open on loopback
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	// The first Run starts the browser, which lives as long as its context:
	// no timeout on that one (see chromedp.Run). Steps get a deadline each.
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	dir := screenshotDir(t)
	shoot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// "/" leads to the list, which shows the three suppressed addresses.
	step("open the list", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if got := text("#total"); got != "3" {
		t.Errorf("list shows %s suppressions, want 3", got)
	}
	shoot("admin-list.png")

	// Search for alice.
	step("search",
		chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "alice"),
		chromedp.Submit(chromedp.CSS(`input[name="q"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="q"][value="alice"]`)))
	if got := text("#total"); got != "1" {
		t.Errorf("search for alice finds %s, want 1", got)
	}
	if got := text("table.list tbody"); !strings.Contains(got, "alice@example.org") || strings.Contains(got, "bob@") {
		t.Errorf("search results: %q", got)
	}

	// Open alice's page: suppressed, with her two hard bounces.
	step("open the recipient",
		chromedp.Click(chromedp.CSS(`a[href="/admin/recipient/alice@example.org"]`)),
		chromedp.WaitVisible(chromedp.CSS("#lift-form")))
	if got := text("#state"); got != "Suppressed" {
		t.Errorf("state %q, want Suppressed", got)
	}
	if got := text("table.timeline"); strings.Count(got, "user_unknown") != 2 || !strings.Contains(got, "5.1.1") {
		t.Errorf("timeline: %q", got)
	}

	// Lift the suppression with a note.
	step("lift",
		chromedp.SendKeys(chromedp.CSS("#lift-note"), "confirmed by phone"),
		chromedp.Click(chromedp.CSS("#lift-form button")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := text("#state"); got != "Not suppressed" {
		t.Errorf("after lifting, state %q", got)
	}
	if got := text("table.timeline tbody tr.admin-row"); !strings.Contains(got, "confirmed by phone") {
		t.Errorf("the lift is not in the timeline: %q", got)
	}
	shoot("admin-recipient.png")

	// The API agrees: alice is no longer suppressed; bob still is.
	if code := apiStatus(t, srv.URL+"/v1/suppressions/alice@example.org"); code != http.StatusNotFound {
		t.Errorf("API: alice is %d after the lift, want 404", code)
	}
	if code := apiStatus(t, srv.URL+"/v1/suppressions/bob@example.org"); code != http.StatusOK {
		t.Errorf("API: bob is %d, want 200", code)
	}
	var rec struct {
		Events []struct{ Class, Reason, Detail string } `json:"events"`
	}
	resp, err := http.Get(srv.URL + "/v1/recipients/alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Events); n == 0 || rec.Events[n-1].Reason != "lift" || !strings.Contains(rec.Events[n-1].Detail, "confirmed by phone") {
		t.Errorf("API history does not end with the lift: %+v", rec.Events)
	}

	// The statistics page draws its chart.
	step("stats", chromedp.Navigate(srv.URL+"/admin/stats"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if got := text("#domains"); !strings.Contains(got, "example.org") {
		t.Errorf("top failing domains: %q", got)
	}
	shoot("admin-stats.png")

	// In Japanese, bob's page explains user_unknown in Japanese.
	step("japanese", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "ja"}})
		return err
	}), chromedp.Navigate(srv.URL+"/admin/recipient/bob@example.org"), chromedp.WaitVisible(chromedp.CSS("#lift-form")))
	if got := text(".explain"); !strings.Contains(got, reasonsJA["user_unknown"].Cause) {
		t.Errorf("Japanese explanation: %q", got)
	}
	shoot("admin-recipient-ja.png")
	step("english again", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "en"}})
		return err
	}))

	// dave was blocked, never suppressed: searching his address opens his
	// page all the same, with times that say their zone.
	step("search a recipient that is not suppressed",
		chromedp.Navigate(srv.URL+"/admin/"),
		chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "dave@example.com"),
		chromedp.Submit(chromedp.CSS(`input[name="q"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.timeline")))
	if got := text("#state"); got != "Not suppressed" {
		t.Errorf("dave's state %q, want Not suppressed", got)
	}
	if got := text("table.timeline tbody time"); !strings.HasSuffix(got, " UTC") {
		t.Errorf("timeline time %q does not say its zone", got)
	}

	// The verdicts by reason name each one's class.
	step("stats by class and reason", chromedp.Navigate(srv.URL+"/admin/stats"), chromedp.WaitVisible(chromedp.CSS("#by-reason")))
	if got := text("#by-reason tr:first-child"); !strings.HasPrefix(got, "hard\tuser_unknown") || !strings.HasSuffix(got, "\t4") {
		t.Errorf("first row of the verdicts by reason: %q, want hard, user_unknown, 4", got)
	}

	// The webhooks page lists the endpoint and the entry it refused.
	step("webhooks", chromedp.Navigate(srv.URL+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
	if got := text("#dead-letters"); !strings.Contains(got, "alice@example.org") || !strings.Contains(got, "list closed") {
		t.Errorf("dead letters: %q", got)
	}
	if got := text("#endpoints"); !strings.Contains(got, "crm") || strings.Contains(got, "sekrit") {
		t.Errorf("endpoints: %q", got)
	}
	shoot("admin-webhooks.png")

	bulkLift(t, srv.URL, step, text, shoot)

	signInAndOut(t, browser, step, text, db, log)
}

// bulkLift goes from the list filtered by reason to the bulk lift page,
// previews what it would lift (bob's hard suppression, not carol's
// complaint), lifts it with a note, and checks through the API that bob
// is lifted, carol is not, and the audit trail says who and why.
func bulkLift(t *testing.T, base string, step func(string, ...chromedp.Action[chromedp.Void]), text func(string) string, shoot func(string)) {
	t.Helper()
	step("list the hard suppressions", chromedp.Navigate(base+"/admin/?reason=hard"), chromedp.WaitVisible(chromedp.CSS("#bulk-lift-link")))
	step("open the bulk lift", chromedp.Click(chromedp.CSS("#bulk-lift-link")), chromedp.WaitVisible(chromedp.CSS("#bulk-lift-form")))
	step("preview", chromedp.SendKeys(chromedp.CSS("#bulk-note"), "the DSN decoder misread a relay's blocklisting"),
		chromedp.Click(chromedp.CSS("#bulk-preview")), chromedp.WaitVisible(chromedp.CSS("#lift-preview")))
	if got := text("#lift-matched"); got != "1" {
		t.Errorf("the preview matches %s, want 1 (bob)", got)
	}
	if got := text("#lift-sample"); !strings.Contains(got, "bob@example.org") || strings.Contains(got, "carol@") {
		t.Errorf("preview sample: %q", got)
	}
	if code := apiStatus(t, base+"/v1/suppressions/bob@example.org"); code != http.StatusOK {
		t.Errorf("API: bob is %d after the preview, want 200 (still suppressed)", code)
	}
	shoot("admin-bulk-lift-preview.png")
	step("lift", chromedp.Click(chromedp.CSS("#bulk-lift")), chromedp.WaitVisible(chromedp.CSS("#lift-done")))
	if got := text("#lift-count"); got != "1" {
		t.Errorf("lifted %s, want 1", got)
	}
	shoot("admin-bulk-lift-done.png")
	if code := apiStatus(t, base+"/v1/suppressions/bob@example.org"); code != http.StatusNotFound {
		t.Errorf("API: bob is %d after the bulk lift, want 404", code)
	}
	if code := apiStatus(t, base+"/v1/suppressions/carol@example.net"); code != http.StatusOK {
		t.Errorf("API: carol is %d, want 200: her complaint was not selected", code)
	}
	var audit struct {
		Entries []struct{ Action, Actor, Note string } `json:"entries"`
	}
	resp, err := http.Get(base + "/v1/audit?address=bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) == 0 || audit.Entries[0].Action != "lift" || audit.Entries[0].Note != "the DSN decoder misread a relay's blocklisting" {
		t.Errorf("bob's audit trail: %+v, want the lift with its note first", audit.Entries)
	}
}

// deadLetterDispatcher runs a webhook dispatcher over db's audit trail
// until the test ends, sending to an endpoint that refuses alice's entries
// for good, and returns it once it has given one up.
func deadLetterDispatcher(t *testing.T, db *boltstore.DB, log *slog.Logger) *webhook.Dispatcher {
	t.Helper()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Address string }
		json.NewDecoder(r.Body).Decode(&p)
		if p.Address == "alice@example.org" {
			http.Error(w, "list closed", http.StatusUnprocessableEntity)
		}
	}))
	t.Cleanup(rcv.Close)
	d, err := webhook.New(webhook.Options{Feed: db, CursorPath: filepath.Join(t.TempDir(), "webhooks.json"), Logger: log,
		Endpoints: []webhook.Endpoint{{Name: "crm", URL: rcv.URL + "/in?key=sekrit", Secret: []byte("0123456789abcdef")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, n, _ := d.DeadLetters("crm", 1); n > 0 {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatal("the endpoint never refused alice's entry")
		}
	}
}

// signInAndOut signs in with a token on a server with tokens, checks that
// the browser holds a session id and not the token, signs out, and checks
// that the session is gone.
func signInAndOut(t *testing.T, browser context.Context, step func(string, ...chromedp.Action[chromedp.Void]), text func(string) string,
	db *boltstore.DB, log *slog.Logger) {
	t.Helper()
	const token = "7d2f9c4a1e8b3f60a5c7e2d94b1f08c36a9e5d2b7c4f1a80e3d6b9c2f5a8e1d4"
	auth, err := api.NewAuth([]api.Token{{Name: "ops", Role: api.RoleAdmin, Value: token}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", New(FromStore(db), Options{Logger: log, Now: func() time.Time { return now },
		Authorize: auth.Authenticate, CheckToken: auth.CheckToken}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	step("sign in", chromedp.Navigate(srv.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("table.list")))
	if got := text(".who"); !strings.Contains(got, "Signed in as ops") {
		t.Errorf("after signing in: %q", got)
	}
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	var session *network.Cookie
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL + "/admin/"}})
		for _, c := range res.Cookies {
			if strings.Contains(c.Value, token) {
				t.Errorf("cookie %s holds the token", c.Name)
			}
			if c.Name == "bouncesink_session" {
				session = c
			}
		}
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Errorf("session cookie %+v, want an HttpOnly, SameSite=Strict bouncesink_session", session)
	}
	step("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.Navigate(srv.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#token")))
}

func apiStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
