package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

type auditResponse struct {
	Entries []store.AuditEntry `json:"entries"` // newest first
	Next    string             `json:"next"`    // the cursor of the next page; "" after the last
}

// audit answers GET /v1/audit: the audit trail newest first, filtered by
// address, actor and since, in pages of ?limit= with ?cursor=.
func (a *api) audit(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := params{w: w, q: q}
	f := store.AuditFilter{Address: q.Get("address"), Actor: q.Get("actor"), Since: p.time("since")}
	limit := p.limit()
	before := p.cursor()
	if p.failed {
		return
	}
	list, next, err := st.Audit(r.Context(), f, before, limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	resp := auditResponse{Entries: list}
	if resp.Entries == nil {
		resp.Entries = []store.AuditEntry{}
	}
	if next != 0 {
		resp.Next = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}

type eventsResponse struct {
	Events []store.AuditEntry `json:"events"` // oldest first
	// Next is the after of the next call: the last event's seq, or the
	// request's after when there was none.
	Next uint64 `json:"next"`
}

// MaxEventsWait bounds ?wait= on GET /v1/events, below the server's
// write timeout.
const MaxEventsWait = 60 * time.Second

// events answers GET /v1/events?after=SEQ&limit=N&wait=DURATION: the
// suppression changes after sequence number SEQ, oldest first. With wait
// (e.g. 30s) and nothing to return yet, it holds the request until a
// change is committed or the wait is over (long polling).
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := params{w: w, q: q}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			p.fail("after=" + strconv.Quote(v) + ": want a sequence number")
		}
		after = n
	}
	limit := p.limit()
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxEventsWait {
			p.fail("wait=" + strconv.Quote(v) + ": want a duration up to " + MaxEventsWait.String())
		}
		wait = d
	}
	if p.failed {
		return
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		changed := st.AuditChanged() // before reading: no change slips between
		list, err := st.AuditAfter(r.Context(), after, limit)
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		if len(list) > 0 || deadline == nil {
			resp := eventsResponse{Events: list, Next: after}
			if len(list) > 0 {
				resp.Next = list[len(list)-1].Seq
			} else {
				resp.Events = []store.AuditEntry{}
			}
			writeJSON(w, http.StatusOK, resp)
			return
		}
		select {
		case <-changed:
		case <-deadline:
			deadline = nil // one last read, then answer
		case <-r.Context().Done():
			return
		}
	}
}

// statsResponse is the body of GET /v1/stats: the store's sizes and the
// recent activity side by side.
type statsResponse struct {
	store.Stats
	store.Activity
}

// stats answers GET /v1/stats?days=N&top=N.
func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	p := params{w: w, q: r.URL.Query()}
	opts := store.ActivityOptions{Days: p.int("days", 30, 1, 400), Top: p.int("top", 10, 1, 1000)}
	if p.failed {
		return
	}
	sizes, err := st.Stats(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	act, err := st.Activity(r.Context(), opts)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statsResponse{Stats: sizes, Activity: act})
}
