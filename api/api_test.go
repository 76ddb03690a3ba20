package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
)

// fakeStore is a store.Reader over maps keyed by normalised address.
type fakeStore struct {
	supp   map[string]store.Suppression
	recs   map[string]store.Recipient
	events map[string][]store.Event
	err    error // returned by every method when set

	mu     sync.Mutex
	checks int // calls to Check
}

func (f *fakeStore) Suppression(ctx context.Context, addr string) (store.Suppression, error) {
	if f.err != nil {
		return store.Suppression{}, f.err
	}
	s, ok := f.supp[addr]
	if !ok {
		return store.Suppression{}, store.ErrNotFound
	}
	return s, nil
}

func (f *fakeStore) Check(ctx context.Context, addrs []string) ([]*store.Suppression, error) {
	f.mu.Lock()
	f.checks++
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := make([]*store.Suppression, len(addrs))
	for i, a := range addrs {
		if s, ok := f.supp[a]; ok {
			out[i] = &s
		}
	}
	return out, nil
}

func (f *fakeStore) Recipient(ctx context.Context, addr string) (store.Recipient, []store.Event, error) {
	if f.err != nil {
		return store.Recipient{}, nil, f.err
	}
	r, ok := f.recs[addr]
	if !ok {
		return store.Recipient{}, nil, store.ErrNotFound
	}
	return r, f.events[addr], nil
}

func (f *fakeStore) RawMessage(ctx context.Context, id uint64) ([]byte, error) {
	return nil, store.ErrNotFound
}

func (f *fakeStore) Ping(ctx context.Context) error { return f.err }

var since = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFake() *fakeStore {
	alice := store.Suppression{Address: "alice@example.org", Reason: "hard", Detail: "user_unknown", Since: since}
	return &fakeStore{
		supp: map[string]store.Suppression{"alice@example.org": alice},
		recs: map[string]store.Recipient{
			"alice@example.org": {Address: "alice@example.org", Counts: map[string]int{"hard": 2},
				Suppressed: true, Suppression: &alice},
			"bob@example.org": {Address: "bob@example.org", Counts: map[string]int{"block": 1}},
		},
		events: map[string][]store.Event{
			"alice@example.org": {
				{Seq: 1, Time: since.Add(-time.Hour), MessageID: 1, Observation: store.Observation{Recipient: "alice@example.org", Class: "hard"}},
				{Seq: 2, Time: since, MessageID: 2, Observation: store.Observation{Recipient: "alice@example.org", Class: "hard"}},
			},
		},
	}
}

func handler(t *testing.T, s store.Reader, opts Options) http.Handler {
	opts.Logger = testlog.New(t)
	return NewHandler(s, opts)
}

// do runs one request and decodes the JSON answer into out (when not nil).
func do(t *testing.T, h http.Handler, method, path, body string, out any) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec
}

func TestSuppression(t *testing.T) {
	h := handler(t, newFake(), Options{})
	tests := []struct {
		path       string
		wantStatus int
		wantReason string
	}{
		{"/v1/suppressions/alice@example.org", 200, "hard"},
		{"/v1/suppressions/Alice@EXAMPLE.org", 200, "hard"},
		{"/v1/suppressions/%3Calice@example.org%3E", 200, "hard"},
		{"/v1/suppressions/bob@example.org", 404, ""},
		{"/v1/suppressions/not-an-address", 400, ""},
		{"/v1/suppressions/", 404, ""},
	}
	for _, tt := range tests {
		var got map[string]any
		rec := do(t, h, "GET", tt.path, "", &got)
		if rec.Code != tt.wantStatus {
			t.Errorf("GET %s = %d %s, want %d", tt.path, rec.Code, rec.Body, tt.wantStatus)
			continue
		}
		switch {
		case tt.wantStatus == 200:
			if got["reason"] != tt.wantReason || got["since"] != since.Format(time.RFC3339) {
				t.Errorf("GET %s = %v", tt.path, got)
			}
		case got["error"] == nil || got["error"] == "":
			t.Errorf("GET %s = %d %v, want an error message", tt.path, rec.Code, got)
		}
	}
}

func TestRecipient(t *testing.T) {
	h := handler(t, newFake(), Options{})
	var got recipientResponse
	if rec := do(t, h, "GET", "/v1/recipients/alice@example.org", "", &got); rec.Code != 200 {
		t.Fatalf("GET alice = %d %s", rec.Code, rec.Body)
	}
	if !got.Recipient.Suppressed || got.Recipient.Counts["hard"] != 2 || len(got.Events) != 2 ||
		got.Events[1].Seq != 2 || got.Events[1].Class != "hard" {
		t.Errorf("GET alice = %+v", got)
	}
	rec := do(t, h, "GET", "/v1/recipients/alice@example.org", "", nil)
	if !strings.Contains(rec.Body.String(), `"class":"hard"`) {
		t.Errorf("events are not in snake_case: %s", rec.Body)
	}

	// Known, with no history returned: events is [] not null.
	rec = do(t, h, "GET", "/v1/recipients/bob@example.org", "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"events":[]`) {
		t.Errorf("GET bob = %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "GET", "/v1/recipients/carol@example.org", "", nil); rec.Code != 404 {
		t.Errorf("GET unknown recipient = %d %s, want 404", rec.Code, rec.Body)
	}
	if rec := do(t, h, "GET", "/v1/recipients/@example.org", "", nil); rec.Code != 400 {
		t.Errorf("GET bad address = %d %s, want 400", rec.Code, rec.Body)
	}
}

func TestCheck(t *testing.T) {
	h := handler(t, newFake(), Options{})
	var got checkResponse
	body := `{"addresses": ["bob@example.org", " Alice@Example.ORG ", "nonsense", "carol@example.net"]}`
	if rec := do(t, h, "POST", "/v1/check", body, &got); rec.Code != 200 {
		t.Fatalf("POST /v1/check = %d %s", rec.Code, rec.Body)
	}
	want := checkResponse{
		Checked: 4,
		Suppressed: []checkResult{{Address: " Alice@Example.ORG ", Normalized: "alice@example.org",
			Reason: "hard", Detail: "user_unknown", Since: since}},
		Invalid: []string{"nonsense"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("check = %+v\nwant %+v", got, want)
	}
}

func TestCheckNoneSuppressedHasEmptyLists(t *testing.T) {
	h := handler(t, newFake(), Options{})
	rec := do(t, h, "POST", "/v1/check", `{"addresses": ["bob@example.org"]}`, nil)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"checked":1,"suppressed":[],"invalid":[]}` {
		t.Errorf("check = %d %s", rec.Code, rec.Body)
	}
}

func TestCheckHundredThousandAddresses(t *testing.T) {
	const n = 100_000
	fake := newFake()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%06d@example.com", i)
		if i%1000 == 0 {
			fake.supp[addrs[i]] = store.Suppression{Address: addrs[i], Reason: "complaint", Since: since}
		}
	}
	body, err := json.Marshal(map[string][]string{"addresses": addrs})
	if err != nil {
		t.Fatal(err)
	}
	h := handler(t, fake, Options{})
	var got checkResponse
	if rec := do(t, h, "POST", "/v1/check", string(body), &got); rec.Code != 200 {
		t.Fatalf("POST /v1/check with %d addresses = %d %s", n, rec.Code, rec.Body)
	}
	if got.Checked != n || len(got.Suppressed) != n/1000 || len(got.Invalid) != 0 {
		t.Errorf("checked %d, suppressed %d, invalid %d; want %d, %d, 0",
			got.Checked, len(got.Suppressed), len(got.Invalid), n, n/1000)
	}
	if got.Suppressed[1].Address != "user001000@example.com" {
		t.Errorf("second suppressed = %+v, want user001000@example.com in request order", got.Suppressed[1])
	}
	// One store read per chunk, not one per address (nor the whole list
	// in memory at once).
	if want := (n + checkChunk - 1) / checkChunk; fake.checks != want {
		t.Errorf("store.Check called %d times, want %d, once per %d addresses", fake.checks, want, checkChunk)
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantError                string // a substring of the error message
	}{
		{"bad JSON", "POST", "/v1/check", `{"addresses": [`, 400, "invalid request body"},
		{"not an object", "POST", "/v1/check", `["a@example.org"]`, 400, "invalid request body"},
		{"unknown field", "POST", "/v1/check", `{"adresses": ["a@example.org"]}`, 400, `unknown field "adresses"`},
		{"wrong type", "POST", "/v1/check", `{"addresses": [1, 2]}`, 400, "invalid request body"},
		{"missing list", "POST", "/v1/check", `{}`, 400, `missing "addresses"`},
		{"null list", "POST", "/v1/check", `{"addresses": null}`, 400, `missing "addresses"`},
		{"empty list", "POST", "/v1/check", `{"addresses": []}`, 400, `"addresses" is empty`},
		{"empty body", "POST", "/v1/check", ``, 400, "empty body"},
		{"trailing data", "POST", "/v1/check", `{"addresses": ["a@example.org"]} {}`, 400, "after the JSON object"},
		{"too large", "POST", "/v1/check", `{"addresses": ["` + strings.Repeat("a", 2000) + `@example.org"]}`, 413, "larger than 1024 bytes"},
		{"bad address", "GET", "/v1/suppressions/alice", "", 400, `invalid address "alice"`},
		{"wrong method on check", "GET", "/v1/check", "", 405, "use POST"},
		{"wrong method on suppression", "PATCH", "/v1/suppressions/alice@example.org", "", 405, "use GET, PUT, DELETE"},
		{"unknown endpoint", "GET", "/v2/check", "", 404, "no such endpoint"},
	}
	h := handler(t, newFake(), Options{MaxBodyBytes: 1024})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]string
			rec := do(t, h, tt.method, tt.path, tt.body, &got)
			if rec.Code != tt.wantStatus || !strings.Contains(got["error"], tt.wantError) {
				t.Errorf("%s %s = %d %q, want %d with an error containing %q",
					tt.method, tt.path, rec.Code, got["error"], tt.wantStatus, tt.wantError)
			}
		})
	}
}

func TestStoreFailureIsOpaque(t *testing.T) {
	fake := newFake()
	fake.err = errors.New("bbolt: /var/lib/bouncesink.db: input/output error")
	h := handler(t, fake, Options{})
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/v1/suppressions/alice@example.org", ""},
		{"GET", "/v1/recipients/alice@example.org", ""},
		{"POST", "/v1/check", `{"addresses": ["alice@example.org"]}`},
	} {
		rec := do(t, h, req.method, req.path, req.body, nil)
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "bbolt") {
			t.Errorf("%s %s = %d %s, want 500 without internal text", req.method, req.path, rec.Code, rec.Body)
		}
	}
}

func TestHealthz(t *testing.T) {
	fake := newFake()
	h := handler(t, fake, Options{})
	if rec := do(t, h, "GET", "/healthz", "", nil); rec.Code != 200 {
		t.Errorf("healthz = %d %s, want 200", rec.Code, rec.Body)
	}
	fake.err = errors.New("closed")
	rec := do(t, h, "GET", "/healthz", "", nil)
	if rec.Code != 503 || bytes.Contains(rec.Body.Bytes(), []byte("closed")) {
		t.Errorf("healthz with a broken store = %d %s, want an opaque 503", rec.Code, rec.Body)
	}
}
