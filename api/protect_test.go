package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
	"github.com/bouncesink/bouncesink/webhook"
)

// openServer serves the API with no tokens (open, as in the quick start)
// over a real store.
func openServer(t *testing.T, opts Options) (*httptest.Server, *boltstore.DB) {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "bouncesink.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = testlog.New(t)
	srv := httptest.NewServer(NewHandler(db, opts))
	t.Cleanup(func() { srv.Close(); db.Close() })
	return srv, db
}

func send(t *testing.T, method, url, contentType string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// With no tokens, a page on another site cannot change the list through
// the visitor's browser: what the browser says of the request's origin is
// enough to refuse it, and an import must carry a list's media type,
// which no page can send to another site without its consent.
func TestCrossSiteRequestsRefused(t *testing.T) {
	srv, _ := openServer(t, Options{})
	const list = "address,reason,detail,since\nvictim@example.org,manual,x,\n"
	evil := map[string]string{"Origin": "https://evil.example"}
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	tests := []struct {
		name, method, path, contentType string
		header                          map[string]string
		body                            string
		want                            int
	}{
		{"import, text/plain, from evil.example", "POST", "/v1/import?format=csv", "text/plain", evil, list, 403},
		{"import, text/csv, cross-site fetch", "POST", "/v1/import", "text/csv", crossSite, list, 403},
		{"import, text/plain, no origin said", "POST", "/v1/import?format=csv", "text/plain", nil, list, 415},
		{"suppress, from evil.example", "PUT", "/v1/suppressions/victim@example.org", "application/json", evil, `{}`, 403},
		{"lift, cross-site", "DELETE", "/v1/suppressions/victim@example.org", "", crossSite, "", 403},
		{"check, from evil.example", "POST", "/v1/check", "text/plain", evil, `{"addresses": ["a@example.org"]}`, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := send(t, tt.method, srv.URL+tt.path, tt.contentType, tt.header, tt.body)
			var e map[string]string
			if code != tt.want || json.Unmarshal([]byte(body), &e) != nil || e["error"] == "" {
				t.Errorf("%s %s = %d %s, want %d with a JSON error", tt.method, tt.path, code, body, tt.want)
			}
		})
	}
	if code, _ := send(t, "GET", srv.URL+"/v1/suppressions/victim@example.org", "", nil, ""); code != 404 {
		t.Errorf("victim@example.org is suppressed (GET = %d)", code)
	}
	// The same requests from the page itself, or from a program that says
	// nothing of origins (curl, the CLI), go through.
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": srv.URL}
	if code, body := send(t, "POST", srv.URL+"/v1/import", "text/csv", sameOrigin, list); code != 200 {
		t.Errorf("same-origin import = %d %s", code, body)
	}
	if code, body := send(t, "PUT", srv.URL+"/v1/suppressions/other@example.org", "", nil, ""); code != 201 {
		t.Errorf("PUT from curl = %d %s", code, body)
	}
}

// With no tokens, only loopback host names and configured ones are
// answered: a DNS-rebinding page's requests carry its own name.
func TestAllowHosts(t *testing.T) {
	h := AllowHosts([]string{"Sink.Internal", "192.0.2.7"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	for host, want := range map[string]int{
		"localhost:8025": 204, "localhost": 204, "127.0.0.1:8025": 204, "127.1.2.3": 204, "[::1]:8025": 204,
		"sink.internal:8025": 204, "SINK.internal.": 204, "192.0.2.7:80": 204,
		"evil.example": 421, "evil.example:8025": 421, "localhost.evil.example": 421, "": 421, "0.0.0.0:8025": 421,
	} {
		req := httptest.NewRequest("GET", "/v1/export", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %q = %d, want %d", host, rec.Code, want)
		}
		if want == 421 && !strings.Contains(rec.Body.String(), "allowed_hosts") {
			t.Errorf("Host %q: error %s does not name the setting", host, rec.Body)
		}
	}
}

// trickle POSTs to url a body that the caller writes to pw as it likes,
// and sends the answer's status on first (0 if the request failed).
func trickle(url, contentType string) (pw *io.PipeWriter, first chan int) {
	pr, pw := io.Pipe()
	first = make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", url, pr)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	return pw, first
}

// Heavy requests take turns: one more than MaxHeavy waits, and is
// answered 503 with Retry-After when no turn comes in time. Checks take
// turns among themselves, transfers (export, import, backup) among
// themselves.
func TestHeavyRequestsTakeTurns(t *testing.T) {
	srv, _ := openServer(t, Options{MaxHeavy: 1, HeavyWait: 200 * time.Millisecond})
	pw, first := trickle(srv.URL+"/v1/check", "application/json")
	fmt.Fprint(pw, `{"addresses": ["a@example.org"`) // the first request holds its turn while its body trickles in
	// The first request has its turn once the handler reads its body;
	// retry until a second one finds the gate shut.
	var code int
	var body string
	var retryAfter string
	for range 100 {
		resp, err := http.Post(srv.URL+"/v1/check", "application/json", strings.NewReader(`{"addresses": ["b@example.org"]}`))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body, retryAfter = resp.StatusCode, string(data), resp.Header.Get("Retry-After")
		if code == 503 {
			break
		}
	}
	if code != 503 || !strings.Contains(body, `"error"`) || retryAfter == "" {
		t.Errorf("a second heavy request = %d %s (Retry-After %q), want 503 with a JSON error and Retry-After", code, body, retryAfter)
	}
	fmt.Fprint(pw, `]}`)
	pw.Close()
	if got := <-first; got != 200 {
		t.Errorf("the first request = %d, want 200", got)
	}
	if code, body := send(t, "POST", srv.URL+"/v1/check", "application/json", nil, `{"addresses": ["b@example.org"]}`); code != 200 {
		t.Errorf("once the turn is free = %d %s", code, body)
	}
}

// A transfer lasts as long as its client takes, which a slow link or a
// client that trickles on purpose makes hours: it holds no turn a check
// needs (mailing software checks before each send), and still one that
// other transfers wait for.
func TestTransfersHoldNoTurnOfChecks(t *testing.T) {
	srv, _ := openServer(t, Options{MaxHeavy: 1, HeavyWait: 200 * time.Millisecond})
	pw, first := trickle(srv.URL+"/v1/import", "text/csv")
	fmt.Fprint(pw, "address,reason,detail,since\na@example.org,manual,x,\n") // the import holds its turn while its body trickles in
	var code int
	for range 100 {
		if code, _ = send(t, "GET", srv.URL+"/v1/export", "", nil, ""); code == 503 {
			break
		}
	}
	if code != 503 {
		t.Fatalf("an export during a trickling import = %d, want 503 (transfers take turns)", code)
	}
	if code, body := send(t, "POST", srv.URL+"/v1/check", "application/json", nil, `{"addresses": ["a@example.org"]}`); code != 200 {
		t.Errorf("a check during a trickling import = %d %s, want 200", code, body)
	}
	pw.Close()
	if got := <-first; got != 200 {
		t.Errorf("the import = %d, want 200", got)
	}
}

// /healthz reports a store that reads but does not write: 503 with the
// kind of failure, until a write commits again.
func TestHealthzReportsFailingWrites(t *testing.T) {
	health := NewHealth()
	srv, db := openServer(t, Options{Health: health})
	w := health.Writer(failingWriter{db, &os.PathError{Op: "write", Path: "/var/lib/bouncesink/bouncesink.db", Err: syscall.ENOSPC}})
	if _, err := w.Record(t.Context(), store.Message{Received: time.Now()}); err == nil {
		t.Fatal("the failing writer wrote")
	}
	code, body := send(t, "GET", srv.URL+"/healthz", "", nil, "")
	var h healthResponse
	json.Unmarshal([]byte(body), &h)
	if code != 503 || h.Status != "degraded" || !strings.Contains(h.Error, "disk full") || h.Since.IsZero() || strings.Contains(body, "/var/lib") {
		t.Errorf("healthz after a failed write = %d %s, want 503 degraded, disk full, without the path", code, body)
	}
	if _, err := health.Writer(db).Record(t.Context(), store.Message{Received: time.Now(),
		Observations: []store.Observation{{Recipient: "a@example.org", Class: "hard", Reason: "user_unknown"}}}); err != nil {
		t.Fatal(err)
	}
	if code, body := send(t, "GET", srv.URL+"/healthz", "", nil, ""); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz after a write committed = %d %s, want 200 ok", code, body)
	}
}

type failingWriter struct {
	store.Writer
	err error
}

func (f failingWriter) Record(ctx context.Context, m store.Message) (uint64, error) {
	return 0, fmt.Errorf("store: record: %w", f.err)
}

// fakeWebhooks stands in for the dispatcher (a webhook.Dispatcher is
// tested in package webhook and end to end in cmd/bouncesink).
type fakeWebhooks struct{}

func (fakeWebhooks) Status(context.Context) ([]webhook.EndpointStatus, error) {
	return []webhook.EndpointStatus{{Name: "crm", URL: "https://crm.example/in?key=xxxxx", Format: webhook.FormatBouncesink, DeadLetters: 1}}, nil
}

func (fakeWebhooks) DeadLetters(endpoint string, limit int) ([]webhook.DeadLetter, int, error) {
	if endpoint != "" && endpoint != "crm" {
		return nil, 0, webhook.ErrUnknownEndpoint
	}
	return []webhook.DeadLetter{{Endpoint: "crm", Seq: 2, Address: "bob@example.org", Status: 422}}[:min(limit, 1)], 1, nil
}

func TestWebhookRoutes(t *testing.T) {
	none, _ := openServer(t, Options{})
	if code, body := send(t, "GET", none.URL+"/v1/webhooks", "", nil, ""); code != 200 || body != `{"endpoints":[]}`+"\n" {
		t.Errorf("GET /v1/webhooks with none = %d %s", code, body)
	}
	if code, body := send(t, "GET", none.URL+"/v1/webhooks/dead-letters", "", nil, ""); code != 200 || !strings.Contains(body, `"dead_letters":[]`) {
		t.Errorf("GET /v1/webhooks/dead-letters with none = %d %s", code, body)
	}
	srv, _ := openServer(t, Options{Webhooks: fakeWebhooks{}})
	if code, body := send(t, "GET", srv.URL+"/v1/webhooks/dead-letters?endpoint=crm&limit=5", "", nil, ""); code != 200 ||
		!strings.Contains(body, `"address":"bob@example.org"`) || !strings.Contains(body, `"total":1`) {
		t.Errorf("dead letters of crm = %d %s", code, body)
	}
	if code, body := send(t, "GET", srv.URL+"/v1/webhooks/dead-letters?endpoint=nobody", "", nil, ""); code != 404 {
		t.Errorf("dead letters of an unknown endpoint = %d %s, want 404", code, body)
	}
	if code, _ := send(t, "GET", srv.URL+"/v1/webhooks/dead-letters?limit=0", "", nil, ""); code != 400 {
		t.Errorf("limit=0 = %d, want 400", code)
	}
}
