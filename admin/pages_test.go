package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Searching an address that has a history opens its page, whether or not
// it is suppressed; any other search lists matches.
func TestSearchOpensRecipient(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	for search, want := range map[string]string{
		"dave@example.com":     "/admin/recipient/dave@example.com", // blocked, never suppressed
		" DAVE@Example.COM ":   "/admin/recipient/dave@example.com",
		"alice@example.org":    "/admin/recipient/alice@example.org",
		"nobody@example.org":   "", // no history: the (empty) list
		"alice":                "",
		"@example.org":         "",
		"not an address@@here": "",
	} {
		w := c.do(httptest.NewRequest("GET", "/admin/?q="+strings.ReplaceAll(search, " ", "+"), nil))
		switch {
		case want != "" && (w.Code != http.StatusSeeOther || w.Header().Get("Location") != want):
			t.Errorf("search %q: %d to %q, want a redirect to %s", search, w.Code, w.Header().Get("Location"), want)
		case want == "" && w.Code != http.StatusOK:
			t.Errorf("search %q: %d, want the list", search, w.Code)
		}
	}
}

// The statistics count verdicts per class and reason: a reason token that
// came with two classes is two rows, not one under the token's usual class.
func TestStatsByClassAndReason(t *testing.T) {
	db := fixture(t)
	for i, class := range []string{"hard", "hard", "soft"} {
		if _, err := db.Record(context.Background(), store.Message{Received: now.Add(-time.Duration(i+1) * time.Hour),
			Observations: []store.Observation{{Recipient: fmt.Sprintf("gone%d@example.net", i), Class: class, Reason: "disabled"}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, newTestHandler(t, db, Options{}))
	_, body := c.get("/admin/stats")
	rows := regexp.MustCompile(`(?s)<tbody id="by-reason">(.*?)</tbody>`).FindStringSubmatch(body)
	if rows == nil {
		t.Fatal("no table of verdicts by reason")
	}
	cell := regexp.MustCompile(`<span class="pill c-(\w+)">\w+</span></td><td><a href="[^"]+"><code>(\w+)</code></a>.*?<td class="num">(\d+)</td>`)
	got := map[string]string{}
	for _, m := range cell.FindAllStringSubmatch(rows[1], -1) {
		got[m[1]+" "+m[2]] = m[3]
	}
	for row, n := range map[string]string{"hard disabled": "2", "soft disabled": "1", "hard user_unknown": "4", "complaint feedback": "1", "block ip_blocklisted": "1"} {
		if got[row] != n {
			t.Errorf("verdicts by reason: %s = %q, want %s (table %v)", row, got[row], n, got)
		}
	}
}

// Times say their time zone; an address that is not one is a 400 titled
// as such.
func TestTimesAndBadAddress(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	_, body := c.get("/admin/recipient/alice@example.org")
	wantIn(t, body, "2025-03-16 12:00 UTC</time>")
	_, body = c.get("/admin/")
	if regexp.MustCompile(`\d\d:\d\d</time>`).MatchString(body) {
		t.Error("the list shows a time without its zone")
	}
	code, body := c.get("/admin/recipient/not-an-address")
	if code != http.StatusBadRequest {
		t.Errorf("invalid address: %d, want 400", code)
	}
	wantIn(t, body, "<title>Invalid address · bouncesink admin</title>", "<h1>Invalid address</h1>")
	wantNotIn(t, body, "Not found")
	c.lang = "ja"
	_, body = c.get("/admin/recipient/not-an-address")
	wantIn(t, body, "<h1>無効なアドレス</h1>")
}

// The timeline pages back past the latest MaxHistory events.
func TestTimelinePages(t *testing.T) {
	db := fixture(t)
	const n = store.MaxHistory + 205
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				_, err := db.Record(context.Background(), store.Message{Received: now.Add(-time.Duration(n-i) * time.Minute),
					Observations: []store.Observation{{Recipient: "busy@example.org", Class: "soft", Reason: "mailbox_full", Diagnostic: fmt.Sprintf("event-%04d", i)}}})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	c := newClient(t, newTestHandler(t, db, Options{TimelinePage: 500}))
	seen := map[string]bool{}
	path := "/admin/recipient/busy@example.org"
	pages := 0
	for path != "" {
		code, body := c.get(path)
		if code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		pages++
		for _, m := range regexp.MustCompile(`event-\d{4}`).FindAllString(body, -1) {
			seen[m] = true
		}
		if pages > 1 {
			wantIn(t, body, `<a href="/admin/recipient/busy@example.org" rel="first">`)
		}
		path = ""
		if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if pages != 3 || len(seen) != n || !seen["event-0000"] {
		t.Errorf("%d pages showed %d events (event-0000: %v), want 3 pages and all %d", pages, len(seen), seen["event-0000"], n)
	}
	if code, _ := c.get("/admin/recipient/busy@example.org?before=x"); code != http.StatusBadRequest {
		t.Errorf("before=x: %d, want 400", code)
	}
}

// The webhooks page says when none is configured.
func TestWebhooksPageWithoutWebhooks(t *testing.T) {
	c := newClient(t, newTestHandler(t, fixture(t), Options{}))
	code, body := c.get("/admin/webhooks")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	wantIn(t, body, "No webhook is configured", `aria-current="page">Webhooks</a>`)
}
