package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/bouncesink/bouncesink/store"
)

// liveHeap returns the bytes of live heap, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapRecorder is a ResponseWriter that keeps no body, counting it, and
// samples the live heap every MiB written and at the end.
type heapRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer // the first MiB, to read the answer's head
	tail   []byte       // the last bytes written
	n      int
	peak   uint64
}

func (h *heapRecorder) Header() http.Header  { return h.header }
func (h *heapRecorder) WriteHeader(code int) { h.code = code }
func (h *heapRecorder) Write(p []byte) (int, error) {
	if h.code == 0 {
		h.code = http.StatusOK
	}
	before := h.n
	h.n += len(p)
	if h.body.Len() < 1<<20 {
		h.body.Write(p)
	}
	h.tail = append(h.tail, p...)
	h.tail = h.tail[max(0, len(h.tail)-256):]
	if before>>20 != h.n>>20 {
		h.peak = max(h.peak, liveHeap())
	}
	return len(p), nil
}

// The answer to a check can be many times its list: a short suppressed
// address repeated, "" over and over, bytes that are not UTF-8 (each
// answered as three). Whatever the list, the server holds about the list
// and no more: before, it held every answer as an object (over six times
// the list when its body had been read) and then the whole answer encoded.
func TestCheckCostIsBoundedByTheList(t *testing.T) {
	const size = 4 << 20
	shapes := []struct {
		name       string
		item       func(i int) string
		suppressed bool // every item is alice, who is suppressed
		invalid    bool // every item is invalid
	}{
		{"distinct addresses", func(i int) string { return fmt.Sprintf(`"someone.%08d@example.org"`, i) }, false, false},
		{"one suppressed address repeated", func(int) string { return `"alice@example.org"` }, true, false},
		{"empty strings", func(int) string { return `""` }, false, true},
		{"bytes that are not UTF-8", func(int) string { return `"` + strings.Repeat("\xff", 64) + `"` }, false, true},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			var list bytes.Buffer
			list.WriteString(`{"addresses": [`)
			n := 0
			for ; list.Len() < size; n++ {
				if n > 0 {
					list.WriteString(",")
				}
				list.WriteString(sh.item(n))
			}
			list.WriteString("]}")
			h := handler(t, newFake(), Options{})
			req := httptest.NewRequest("POST", "/v1/check", bytes.NewReader(list.Bytes()))
			rec := &heapRecorder{header: http.Header{}}
			base := liveHeap()
			h.ServeHTTP(rec, req)
			rec.peak = max(rec.peak, liveHeap())
			if rec.code != http.StatusOK {
				t.Fatalf("status %d: %.200s", rec.code, rec.body.String())
			}
			// The head and the tail say how many of each there were.
			if head := fmt.Sprintf(`{"checked":%d,"suppressed":[`, n); !strings.HasPrefix(rec.body.String(), head) ||
				!bytes.HasSuffix(rec.tail, []byte("]}\n")) {
				t.Errorf("answer starts %.40q and ends %q, want it to start %q", rec.body.String(), rec.tail[max(0, len(rec.tail)-20):], head)
			}
			if sh.invalid && !strings.Contains(rec.body.String(), `"suppressed":[],"invalid":[`) {
				t.Errorf("answer starts %.60q, want every address invalid", rec.body.String())
			}
			wantSuppressed := strings.Count(rec.body.String(), `"normalized":"alice@example.org"`) > 0
			if sh.suppressed != wantSuppressed {
				t.Errorf("answer lists alice: %v, want %v", wantSuppressed, sh.suppressed)
			}
			grown := int64(rec.peak) - int64(base)
			t.Logf("list %d bytes, %d addresses: answer %d bytes, live heap grew by at most %d (%.1f times the list)",
				list.Len(), n, rec.n, grown, float64(grown)/float64(list.Len()))
			if limit := int64(5*list.Len()/2 + 1<<20); grown > limit {
				t.Errorf("live heap grew by %d bytes for a list of %d: want at most %d (2.5 times the list and 1 MiB)",
					grown, list.Len(), limit)
			}
		})
	}
}

// failLater is a store whose Check fails from its second call on.
type failLater struct {
	*fakeStore
	calls int
}

func (f *failLater) Check(ctx context.Context, addrs []string) ([]*store.Suppression, error) {
	if f.calls++; f.calls > 1 {
		return nil, errors.New("disk on fire")
	}
	return f.fakeStore.Check(ctx, addrs)
}

// A store failure once the answer has begun cuts it short: the client
// sees a broken transfer, never a 200 with a short list.
func TestCheckStoreFailureMidwayCutsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(handler(t, &failLater{fakeStore: newFake()}, Options{}))
	defer srv.Close()
	var list strings.Builder
	list.WriteString(`{"addresses": ["alice@example.org"`)
	for i := range 2 * checkChunk {
		fmt.Fprintf(&list, `,"someone.%d@example.org"`, i)
	}
	list.WriteString("]}")
	resp, err := http.Post(srv.URL+"/v1/check", "application/json", strings.NewReader(list.String()))
	if err != nil {
		return // cut before the status line was flushed
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("answer read to its end (%d %.80q...), want it cut short", resp.StatusCode, body)
	}
}
