package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
)

// feed is an in-memory audit trail.
type feed struct {
	mu      sync.Mutex
	entries []store.AuditEntry
	changed chan struct{}
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

func (f *feed) add(action, addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := store.AuditEntry{Seq: uint64(len(f.entries) + 1), Time: time.Unix(1700000000, 0).UTC(),
		Address: addr, Action: action, Actor: "policy"}
	if action != store.AuditLift {
		e.After = &store.Suppression{Address: addr, Reason: "hard", Detail: "user_unknown", Since: e.Time}
	}
	f.entries = append(f.entries, e)
	close(f.changed)
	f.changed = make(chan struct{})
}

// put appends e to the trail, numbering and stamping it.
func (f *feed) put(e store.AuditEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Seq = uint64(len(f.entries) + 1)
	if e.Time.IsZero() {
		e.Time = time.Unix(1700000000, 0).UTC()
	}
	f.entries = append(f.entries, e)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *feed) AuditAfter(ctx context.Context, seq uint64, limit int) ([]store.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.AuditEntry
	for _, e := range f.entries {
		if e.Seq > seq && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *feed) AuditChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// receiver is an endpoint that records what it is sent; fail decides,
// per attempt, whether it answers 500.
type receiver struct {
	mu       sync.Mutex
	attempts []string // X-Bouncesink-Delivery of every request
	took     []string // of those answered 2xx
	bodies   [][]byte
	headers  []http.Header
	fail     func(seq string, attempt int) bool
	got      chan struct{} // receives after each 2xx
}

func newReceiver(t *testing.T, fail func(string, int) bool) (*receiver, *httptest.Server) {
	r := &receiver{fail: fail, got: make(chan struct{}, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		seq := req.Header.Get("X-Bouncesink-Delivery")
		r.mu.Lock()
		r.attempts = append(r.attempts, seq)
		n := 0
		for _, s := range r.attempts {
			if s == seq {
				n++
			}
		}
		failing := r.fail != nil && r.fail(seq, n)
		if !failing {
			r.took = append(r.took, seq)
			r.bodies = append(r.bodies, body)
			r.headers = append(r.headers, req.Header.Clone())
		}
		r.mu.Unlock()
		if failing {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		r.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

// wait waits for n successful deliveries.
func (r *receiver) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.got:
		case <-time.After(10 * time.Second):
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("waited for %d deliveries, got %d (attempts %v)", n, i, r.attempts)
		}
	}
}

// run starts a dispatcher and stops it at the end of the test.
func run(t *testing.T, f Feed, cursorPath string, eps ...Endpoint) {
	t.Helper()
	log := testlog.New(t) // before the cleanup below, so the dispatcher stops first
	d, err := New(Options{Feed: f, Endpoints: eps, CursorPath: cursorPath,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestSignatureVerifies(t *testing.T) {
	secret := []byte("s3cret-s3cret-s3cret")
	f := newFeed()
	rcv, srv := newReceiver(t, nil)
	run(t, f, filepath.Join(t.TempDir(), "cursors.json"), Endpoint{URL: srv.URL, Secret: secret})
	f.add(store.AuditSuppress, "alice@example.org")
	rcv.wait(t, 1)

	rcv.mu.Lock()
	body, h := rcv.bodies[0], rcv.headers[0]
	rcv.mu.Unlock()
	sig := h.Get(SignatureHeader)
	if err := Verify(secret, sig, body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("Verify(%q) = %v", sig, err)
	}
	// By hand, as a receiver in another language would.
	ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	unix, _ := strconv.ParseInt(ts, 10, 64)
	if Sign(secret, time.Unix(unix, 0), body) != sig {
		t.Errorf("signature %q is not HMAC-SHA256(secret, t.body)", sig)
	}
	for name, err := range map[string]error{
		"tampered body": Verify(secret, sig, append([]byte(" "), body...), time.Now(), 5*time.Minute),
		"other secret":  Verify([]byte("other"), sig, body, time.Now(), 5*time.Minute),
		"replayed late": Verify(secret, sig, body, time.Now().Add(time.Hour), 5*time.Minute),
		"no signature":  Verify(secret, "", body, time.Now(), 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: Verify accepted it", name)
		}
	}

	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	after, _ := p["after"].(map[string]any)
	if p["event"] != "suppression.added" || p["seq"] != 1.0 || p["address"] != "alice@example.org" ||
		p["action"] != "suppress" || p["actor"] != "policy" || after["reason"] != "hard" {
		t.Errorf("payload = %s", body)
	}
	if h.Get("X-Bouncesink-Event") != "suppression.added" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
}

func TestRetriesOn500ThenSucceeds(t *testing.T) {
	f := newFeed()
	// The first entry fails twice; the endpoint sees nothing after it meanwhile.
	rcv, srv := newReceiver(t, func(seq string, n int) bool { return seq == "1" && n <= 2 })
	run(t, f, filepath.Join(t.TempDir(), "cursors.json"), Endpoint{URL: srv.URL})
	f.add(store.AuditSuppress, "alice@example.org")
	f.add(store.AuditSuppress, "bob@example.org")
	rcv.wait(t, 2)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if want := []string{"1", "1", "1", "2"}; !slices.Equal(rcv.attempts, want) {
		t.Errorf("attempts %v, want %v", rcv.attempts, want)
	}
	if want := []string{"1", "2"}; !slices.Equal(rcv.took, want) {
		t.Errorf("delivered %v, want %v", rcv.took, want)
	}
}

// Whatever fails and is retried, an endpoint takes the entries in trail
// order, each once it answers 2xx; a new dispatcher on the same cursor
// file resumes after the last one taken.
func TestOrderPreservedAndResumed(t *testing.T) {
	const n = 60
	f := newFeed()
	// Every third entry fails on its first attempt, every fifth on its first two.
	rcv, srv := newReceiver(t, func(seq string, attempt int) bool {
		i, _ := strconv.Atoi(seq)
		return (i%3 == 0 && attempt == 1) || (i%5 == 0 && attempt <= 2)
	})
	cursorPath := filepath.Join(t.TempDir(), "cursors.json")
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(Options{Feed: f, Endpoints: []Endpoint{{URL: srv.URL}}, CursorPath: cursorPath,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	for i := range n {
		f.add(store.AuditSuppress, "user"+strconv.Itoa(i)+"@example.org")
	}
	rcv.wait(t, n)
	cancel()
	<-done

	rcv.mu.Lock()
	for i, seq := range rcv.took {
		if seq != strconv.Itoa(i+1) {
			t.Fatalf("delivered %v: out of order at %d", rcv.took, i)
		}
	}
	rcv.mu.Unlock()

	// The last entry may come again: the stop may have cut the dispatcher
	// off between the endpoint's 200 and the cursor's save.
	f.add(store.AuditLift, "user0@example.org")
	run(t, f, cursorPath, Endpoint{URL: srv.URL})
	for {
		rcv.wait(t, 1)
		rcv.mu.Lock()
		last := rcv.took[len(rcv.took)-1]
		rcv.mu.Unlock()
		if last == strconv.Itoa(n+1) {
			break
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	again := rcv.took[n:]
	if !slices.Equal(again, []string{strconv.Itoa(n + 1)}) && !slices.Equal(again, []string{strconv.Itoa(n), strconv.Itoa(n + 1)}) {
		t.Errorf("after a restart delivered %v, want [%d] or [%d %d]", again, n+1, n, n+1)
	}
}

// An endpoint that never answers holds up only itself.
func TestHangingEndpointHoldsUpOnlyItself(t *testing.T) {
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	f := newFeed()
	rcv, srv := newReceiver(t, nil)
	run(t, f, filepath.Join(t.TempDir(), "cursors.json"),
		Endpoint{URL: hanging.URL, Timeout: time.Hour}, Endpoint{URL: srv.URL})
	for i := range 5 {
		f.add(store.AuditSuppress, "user"+strconv.Itoa(i)+"@example.org")
	}
	rcv.wait(t, 5)
}

func TestListmonkBlocklistShape(t *testing.T) {
	type call struct{ method, path, auth, query string }
	calls := make(chan call, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Query string }
		json.NewDecoder(r.Body).Decode(&body)
		calls <- call{r.Method, r.URL.Path, r.Header.Get("Authorization"), body.Query}
		w.Write([]byte(`{"data": true}`))
	}))
	t.Cleanup(srv.Close)
	f := newFeed()
	run(t, f, filepath.Join(t.TempDir(), "cursors.json"),
		Endpoint{URL: srv.URL + "/", Format: FormatListmonkBlocklist, Authorization: "token bouncesink:abc"})
	f.add(store.AuditSuppress, "o'brien@example.org")
	f.add(store.AuditLift, "o'brien@example.org") // listmonk is not told
	f.add(store.AuditChange, "Carol@example.org")
	want := []call{
		{"PUT", "/api/subscribers/query/blocklist", "token bouncesink:abc", "LOWER(subscribers.email) = 'o''brien@example.org'"},
		{"PUT", "/api/subscribers/query/blocklist", "token bouncesink:abc", "LOWER(subscribers.email) = 'carol@example.org'"},
	}
	for i, w := range want {
		select {
		case got := <-calls:
			if got != w {
				t.Errorf("call %d = %+v, want %+v", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d never came", i)
		}
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	for _, eps := range [][]Endpoint{
		{{URL: ""}},
		{{URL: "http://x"}, {URL: "http://x"}},
		{{URL: "http://x", Format: "slack"}},
		{{URL: "http://x", Format: FormatMautic}}, // no credentials
		{{URL: "http://x", Format: FormatMautic, Authorization: "Basic x", OAuth2: &OAuth2{}}}, // both
		{{URL: "http://x", Format: FormatKeila}},                                               // no key
	} {
		if _, err := New(Options{Feed: newFeed(), Endpoints: eps, CursorPath: filepath.Join(t.TempDir(), "c")}); err == nil {
			t.Errorf("New(%+v) accepted them", eps)
		}
	}
}
