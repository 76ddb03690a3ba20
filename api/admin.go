package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// The admin and integration endpoints need a store that also implements
// store.Admin (every engine does). Over a store.Reader alone they answer
// 501, so a read-only backend can still serve the lookups.

// adminStore returns the store's store.Admin side, or answers 501.
func (a *api) adminStore(w http.ResponseWriter) (store.Admin, bool) {
	if a.admin == nil {
		writeError(w, http.StatusNotImplemented, "this store serves lookups only")
		return nil, false
	}
	return a.admin, true
}

// DefaultPageSize is how many rows a list endpoint returns without ?limit=.
const DefaultPageSize = 100

type suppressRequest struct {
	Reason string `json:"reason"` // becomes the suppression's detail; its reason is "manual"
	Note   string `json:"note"`
}

// suppress answers PUT /v1/suppressions/{address}: 201 with the new
// suppression, or 200 with the one that already stands.
func (a *api) suppress(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	addr, ok := pathAddress(w, r)
	if !ok {
		return
	}
	var req suppressRequest
	if !a.decodeOptional(w, r, &req) {
		return
	}
	s, added, err := st.SuppressAs(r.Context(), ActorFrom(r.Context()),
		store.ManualSuppression{Address: addr, Detail: req.Reason, Note: req.Note})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, status, s)
}

type liftRequest struct {
	Note string `json:"note"`
}

type liftResponse struct {
	Address string             `json:"address"`
	Lifted  *store.Suppression `json:"lifted"` // null when it was not suppressed
}

// lift answers DELETE /v1/suppressions/{address}, the note in ?note= or a
// JSON body {"note": "..."}: 200 whether or not the address was suppressed
// (the policy's counters are reset either way), 404 for an address never seen.
func (a *api) lift(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	addr, ok := pathAddress(w, r)
	if !ok {
		return
	}
	req := liftRequest{Note: r.URL.Query().Get("note")}
	if !a.decodeOptional(w, r, &req) {
		return
	}
	lifted, err := st.LiftAs(r.Context(), ActorFrom(r.Context()), addr, req.Note)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown address", "address": addr})
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, liftResponse{Address: addr, Lifted: lifted})
}

type listResponse struct {
	Suppressions []store.ListedSuppression `json:"suppressions"`
	Next         string                    `json:"next"` // the cursor of the next page; "" after the last
}

// listSuppressions answers GET /v1/suppressions, newest first, with the
// filters reason, class, domain, since, until, q and the cursor pages of
// store.ListSuppressions.
func (a *api) listSuppressions(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := params{w: w, q: q}
	f := store.SuppressionFilter{
		Reason: q.Get("reason"),
		Class:  q.Get("class"),
		Domain: q.Get("domain"),
		Search: q.Get("q"),
		Since:  p.time("since"),
		Until:  p.time("until"),
	}
	limit := p.limit()
	if p.failed {
		return
	}
	list, next, err := st.ListSuppressions(r.Context(), f, q.Get("cursor"), limit)
	if errors.Is(err, store.ErrBadCursor) {
		writeError(w, http.StatusBadRequest, "invalid cursor; use the \"next\" of the previous page")
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if list == nil {
		list = []store.ListedSuppression{}
	}
	writeJSON(w, http.StatusOK, listResponse{Suppressions: list, Next: next})
}

// decodeOptional decodes a JSON body into v if there is one; an empty
// body leaves v as it is. It answers 400 or 413 when it cannot.
func (a *api) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	err := decodeJSON(w, r, MaxSmallBody, v)
	if errors.Is(err, io.EOF) {
		return true
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
	default:
		return true
	}
	return false
}

// storeError answers for a failed store call: 400 for an invalid address,
// 503 while a rebuild runs, an opaque 500 otherwise.
func (a *api) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrInvalidAddress):
		writeError(w, http.StatusBadRequest, "invalid address")
	case errors.Is(err, store.ErrRebuilding):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "the store is being rebuilt; try again later")
	default:
		a.internalError(w, r, err)
	}
}

// params reads query parameters, answering 400 for the first bad one.
type params struct {
	w      http.ResponseWriter
	q      map[string][]string
	failed bool
}

func (p *params) get(name string) string {
	if v := p.q[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (p *params) fail(msg string) {
	if !p.failed {
		writeError(p.w, http.StatusBadRequest, msg)
		p.failed = true
	}
}

// time reads an RFC 3339 time or a date (2006-01-02, midnight UTC).
func (p *params) time(name string) time.Time {
	v := p.get(name)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t
	}
	p.fail(fmt.Sprintf("%s=%q: want an RFC 3339 time or a date (2006-01-02)", name, v))
	return time.Time{}
}

// int reads a whole number from lo to hi, def when absent.
func (p *params) int(name string, def, lo, hi int) int {
	v := p.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(fmt.Sprintf("%s=%q: want a number from %d to %d", name, v, lo, hi))
		return def
	}
	return n
}

func (p *params) limit() int { return p.int("limit", DefaultPageSize, 1, store.MaxListPage) }

// cursor reads the "cursor" of a page numbered by sequence: the "next" of
// the previous page, a positive number; 0 when absent (the first page).
func (p *params) cursor() uint64 {
	c := p.get("cursor")
	if c == "" {
		return 0
	}
	n, err := strconv.ParseUint(c, 10, 64)
	if err != nil || n == 0 {
		p.fail("invalid cursor; use the \"next\" of the previous page")
	}
	return n
}

type historyResponse struct {
	Events []store.Event `json:"events"` // newest first
	Next   string        `json:"next"`   // the cursor of the next (older) page; "" after the last
}

// history answers GET /v1/recipients/{address}/events: the address's
// whole history, newest first, in pages of ?limit= with ?cursor= (GET
// /v1/recipients/{address} carries the latest store.MaxHistory only).
func (a *api) history(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	addr, ok := pathAddress(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := params{w: w, q: q}
	limit := p.int("limit", DefaultPageSize, 1, store.MaxHistory)
	before := p.cursor()
	if p.failed {
		return
	}
	events, next, err := st.History(r.Context(), addr, before, limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	resp := historyResponse{Events: events}
	if resp.Events == nil {
		resp.Events = []store.Event{}
	}
	if next != 0 {
		resp.Next = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}
