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
// through the API that the address is no longer suppressed.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is missing at %s in CI: .ci/run should have installed it (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("chromium is not installed at %s (apt-get install chromium); skipping the browser test", chromiumPath)
	}
	db := fixture(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.Handle("/admin/", New(FromStore(db), Options{Logger: log, Now: func() time.Time { return now }}))
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
