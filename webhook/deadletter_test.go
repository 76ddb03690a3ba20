package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// counter is an Observer that counts.
type counter struct {
	mu                        sync.Mutex
	delivered, failed, killed int
}

func (c *counter) Delivered(string)    { c.mu.Lock(); c.delivered++; c.mu.Unlock() }
func (c *counter) Failed(string)       { c.mu.Lock(); c.failed++; c.mu.Unlock() }
func (c *counter) DeadLettered(string) { c.mu.Lock(); c.killed++; c.mu.Unlock() }

// syncBuffer is a log destination safe for the dispatcher's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// start runs a dispatcher until stop or the end of the test, logging to
// a buffer.
func start(t *testing.T, o Options) (d *Dispatcher, logs *syncBuffer, stop func()) {
	t.Helper()
	logs = &syncBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = time.Millisecond, 10*time.Millisecond
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return d, logs, stop
}

// eventually waits for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An entry the endpoint refuses for good (a 4xx) goes on the dead-letter
// list after one attempt, and the entries after it are delivered; a 408
// or 429 is retried like a 5xx. The dead letters survive a restart, and
// are not sent again.
func TestRejectedEntryIsDeadLettered(t *testing.T) {
	f := newFeed()
	var mu sync.Mutex
	var attempts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seq := r.Header.Get("X-Bouncesink-Delivery")
		mu.Lock()
		attempts = append(attempts, seq)
		n := strings.Count(strings.Join(attempts, ","), seq)
		mu.Unlock()
		switch {
		case seq == "2":
			http.Error(w, `{"error": "no such subscriber field"}`, http.StatusUnprocessableEntity)
		case seq == "3" && n == 1:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case seq == "4" && n == 1:
			http.Error(w, "timeout", http.StatusRequestTimeout)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	obs := &counter{}
	opts := Options{Feed: f, Endpoints: []Endpoint{{Name: "crm", URL: srv.URL}}, CursorPath: filepath.Join(dir, "webhooks.json"), Observer: obs}
	d, _, stopFirst := start(t, opts)
	for _, a := range []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"} {
		f.add(store.AuditSuppress, a)
	}
	eventually(t, "every entry dealt with", func() bool { st, _ := d.Status(context.Background()); return st[0].Position == 5 })
	mu.Lock()
	if want := []string{"1", "2", "3", "3", "4", "4", "5"}; !slices.Equal(attempts, want) {
		t.Errorf("attempts %v, want %v", attempts, want)
	}
	mu.Unlock()
	list, total, err := d.DeadLetters("crm", 0)
	if err != nil || total != 1 || len(list) != 1 || list[0].Seq != 2 || list[0].Address != "b@example.org" ||
		list[0].Status != 422 || !strings.Contains(list[0].Error, "no such subscriber field") || list[0].Attempts != 1 ||
		list[0].Event != "suppression.added" {
		t.Errorf("dead letters %+v (%d in all, %v), want seq 2 refused with 422", list, total, err)
	}
	obs.mu.Lock()
	if obs.delivered != 4 || obs.failed != 2 || obs.killed != 1 {
		t.Errorf("observed %d delivered, %d failed attempts, %d dead letters; want 4, 2, 1", obs.delivered, obs.failed, obs.killed)
	}
	obs.mu.Unlock()
	st, _ := d.Status(context.Background())
	if st[0].DeadLetters != 1 || st[0].Delivered != 4 || st[0].FailedAttempts != 2 || st[0].LagSeconds != 0 {
		t.Errorf("status %+v", st[0])
	}
	if _, _, err := d.DeadLetters("nobody", 0); err == nil {
		t.Error("DeadLetters of an unknown endpoint did not fail")
	}

	// A new dispatcher on the same files knows the dead letter and sends
	// only what is new.
	f.add(store.AuditLift, "b@example.org")
	stopFirst()
	d2, _, _ := start(t, opts)
	eventually(t, "the new entry", func() bool { st, _ := d2.Status(context.Background()); return st[0].Position == 6 })
	mu.Lock()
	if last := attempts[len(attempts)-1]; last != "6" || slices.Contains(attempts[7:], "2") {
		t.Errorf("after a restart, attempts %v", attempts)
	}
	mu.Unlock()
	if list, total, _ := d2.DeadLetters("", 10); total != 1 || len(list) != 1 {
		t.Errorf("dead letters after a restart: %+v (%d)", list, total)
	}
}

// A redirect is not followed: the body, its signature and the
// Authorization header go nowhere else; the attempt fails, logged with
// the Location (its secrets hidden), and is retried.
func TestRedirectNotFollowed(t *testing.T) {
	var hit atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	t.Cleanup(other.Close)
	attempts := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts <- struct{}{}
		http.Redirect(w, r, other.URL+"/steal?token=stolen-secret", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	f := newFeed()
	d, logs, _ := start(t, Options{Feed: f, Endpoints: []Endpoint{{URL: srv.URL, Secret: []byte("0123456789abcdef"), Authorization: "token x:y"}},
		CursorPath: filepath.Join(t.TempDir(), "webhooks.json")})
	f.add(store.AuditSuppress, "a@example.org")
	for range 3 {
		select {
		case <-attempts:
		case <-time.After(10 * time.Second):
			t.Fatal("no attempt")
		}
	}
	if hit.Load() {
		t.Error("the redirect was followed")
	}
	st, _ := d.Status(context.Background())
	if st[0].Position != 0 || !strings.Contains(st[0].LastError, "307") {
		t.Errorf("status %+v, want the entry still pending after a 307", st[0])
	}
	out := logs.String()
	if !strings.Contains(out, `location="`+other.URL+`/steal?token=xxxxx"`) || strings.Contains(out, "stolen-secret") {
		t.Errorf("the log does not name the Location with its secret hidden:\n%s", out)
	}
}

// Credentials in a webhook URL never reach the logs, the status or an
// error; plain http to another host is warned about.
func TestURLCredentialsRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens: every attempt fails with an error quoting the URL
	f := newFeed()
	d, logs, _ := start(t, Options{Feed: f, Endpoints: []Endpoint{
		{URL: "http://hook-user:hook-password@" + closed + "/in?api_key=key-secret&x=1"},
		{URL: "http://hooks.example.com/in", Name: "remote"},
	}, CursorPath: filepath.Join(t.TempDir(), "webhooks.json")})
	f.add(store.AuditSuppress, "a@example.org")
	eventually(t, "a failed attempt", func() bool { st, _ := d.Status(context.Background()); return st[0].FailedAttempts > 1 })
	st, _ := d.Status(context.Background())
	out := logs.String()
	for _, secret := range []string{"hook-password", "key-secret"} {
		if strings.Contains(out, secret) || strings.Contains(st[0].URL, secret) || strings.Contains(st[0].LastError, secret) {
			t.Errorf("%s leaked: status %+v\nlog:\n%s", secret, st[0], out)
		}
	}
	if st[0].Name != "http://"+closed+"/in" {
		t.Errorf("default name %q, want the URL without credentials or query", st[0].Name)
	}
	if !strings.Contains(out, `msg="webhook: plain http to a host that is not loopback`) || !strings.Contains(out, "webhook=remote") ||
		strings.Count(out, "plain http to a host") != 1 {
		t.Errorf("want one warning, about the remote plain-http endpoint:\n%s", out)
	}
}

// Positions are kept under the endpoint's name: one an older version kept
// under the URL moves to the name, and a changed secret in the URL does
// not replay the trail.
func TestPositionsKeyedByName(t *testing.T) {
	f := newFeed()
	for _, a := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		f.add(store.AuditSuppress, a)
	}
	rcv, srv := newReceiver(t, nil)
	path := filepath.Join(t.TempDir(), "webhooks.json")
	oldURL := srv.URL + "/in?token=old-secret"
	old, _ := json.Marshal(map[string]any{"endpoints": map[string]uint64{oldURL: 2}})
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	d, _, stop := start(t, Options{Feed: f, Endpoints: []Endpoint{{Name: "crm", URL: oldURL}}, CursorPath: path})
	rcv.wait(t, 1)
	eventually(t, "entry 3", func() bool { st, _ := d.Status(context.Background()); return st[0].Position == 3 })
	rcv.mu.Lock()
	if !slices.Equal(rcv.took, []string{"3"}) {
		t.Errorf("delivered %v after the migration, want only 3", rcv.took)
	}
	rcv.mu.Unlock()
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "old-secret") || !strings.Contains(string(data), `"crm": 3`) {
		t.Errorf("state file %s, want the position under the name and no URL", data)
	}
	stop()

	// An endpoint without a name: its secret changes, its position stays.
	path2 := filepath.Join(t.TempDir(), "webhooks.json")
	f.add(store.AuditSuppress, "d@example.org")
	d1, _, stop1 := start(t, Options{Feed: f, Endpoints: []Endpoint{{URL: srv.URL + "/x?token=one"}}, CursorPath: path2})
	eventually(t, "all four", func() bool { st, _ := d1.Status(context.Background()); return st[0].Position == 4 })
	stop1()
	rcv.mu.Lock()
	before := len(rcv.took)
	rcv.mu.Unlock()
	f.add(store.AuditSuppress, "e@example.org")
	d2, _, _ := start(t, Options{Feed: f, Endpoints: []Endpoint{{URL: srv.URL + "/x?token=two"}}, CursorPath: path2})
	eventually(t, "the fifth", func() bool { st, _ := d2.Status(context.Background()); return st[0].Position == 5 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if again := rcv.took[before:]; !slices.Equal(again, []string{"5"}) {
		t.Errorf("after the secret changed, delivered %v, want only 5 (no replay of the trail)", again)
	}
}

// Status says how far behind a failing endpoint is.
func TestStatusLag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	f := newFeed()
	now := time.Unix(1700000000, 0).Add(90 * time.Second) // the feed's entries are stamped 1700000000
	d, _, _ := start(t, Options{Feed: f, Endpoints: []Endpoint{{URL: srv.URL}}, CursorPath: filepath.Join(t.TempDir(), "w.json"),
		Now: func() time.Time { return now }})
	f.add(store.AuditSuppress, "a@example.org")
	eventually(t, "a failure", func() bool { st, _ := d.Status(context.Background()); return st[0].FailedAttempts > 0 })
	st, _ := d.Status(context.Background())
	if st[0].LagSeconds != 90 || !strings.Contains(st[0].LastError, "503") {
		t.Errorf("status %+v, want a lag of 90 s and the 503", st[0])
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		a    Attempt
		want Outcome
	}{
		{Attempt{Status: 200}, Delivered}, {Attempt{Status: 204}, Delivered},
		{Attempt{Status: 400}, Reject}, {Attempt{Status: 404}, Reject}, {Attempt{Status: 410}, Reject}, {Attempt{Status: 422}, Reject},
		{Attempt{Status: 408}, Retry}, {Attempt{Status: 429}, Retry}, {Attempt{Status: 500}, Retry}, {Attempt{Status: 503}, Retry},
		{Attempt{Status: 301, Location: "https://x"}, Retry}, {Attempt{Status: 307}, Retry},
		{Attempt{Err: context.DeadlineExceeded}, Retry},
	} {
		if got := Classify(tt.a); got != tt.want {
			t.Errorf("Classify(%+v) = %v, want %v", tt.a, got, tt.want)
		}
	}
}
