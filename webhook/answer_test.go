package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A receiver that answers a request whose answer the format reads (a
// contact, a search, a token) with more than the 1 MiB read of it: the
// entry is dead-lettered saying so, not read cut off and called garbage.
// A 2xx with a large body to a request whose answer is not read (a plain
// webhook) is still delivered.
func TestAnswerLargerThanReadIsSaidSo(t *testing.T) {
	huge := `{"data": {"status": "active"}, "padding": "` + strings.Repeat("x", 2<<20) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(huge))
	}))
	t.Cleanup(srv.Close)

	f := newFeed()
	f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
	d := dispatch(t, f, Endpoint{URL: srv.URL, Format: FormatKeila, Authorization: "Bearer key-1"})
	caughtUp(t, d, f)
	if dl := deadLetters(t, d); len(dl) != 1 || !strings.Contains(dl[0].Error, "larger than") {
		t.Errorf("dead letters %+v, want one saying the answer is larger than what is read", dl)
	}

	f = newFeed()
	f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
	d = dispatch(t, f, Endpoint{URL: srv.URL})
	if st := caughtUp(t, d, f); st.Delivered != 1 || st.DeadLetters != 0 {
		t.Errorf("plain webhook answered 200 with %d bytes: status %+v, want delivered", len(huge), st)
	}
}
