package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
)

// listPage is the Data of the suppression list.
type listPage struct {
	Query       Query
	Rows        []listRow
	Total       int
	Page, Pages int
	PrevURL     string
	NextURL     string
	Sort        map[string]sortLink // per column
	Reasons     []string            // suppression reasons to filter on
	Filtered    bool
	AddReasons  []string // reason tokens offered for a manual suppression
	LiftURL     string   // the bulk lift page with this filter
}

type listRow struct {
	store.ListedSuppression
	Domain string
	Cause  string // of Detail, when it is a reason token
}

type sortLink struct {
	URL   string
	Arrow string // "▲", "▼" or ""
}

// suppressionReasons are the values of store.Suppression.Reason.
var suppressionReasons = []string{"hard", "soft", "complaint", "manual", "import"}

// list serves the suppression list: GET /admin/?q=&reason=&domain=&sort=&dir=&page=
func (h *handler) list(w http.ResponseWriter, r *http.Request, u user) {
	in := r.URL.Query()
	q := Query{
		Search: strings.TrimSpace(in.Get("q")),
		Reason: in.Get("reason"),
		Domain: strings.TrimSpace(in.Get("domain")),
		Sort:   in.Get("sort"),
		Desc:   in.Get("dir") == "desc",
		Limit:  h.opts.PageSize,
	}
	switch q.Sort {
	case "address", "reason", "detail", "since":
	default:
		// Newest first, as the store lists them.
		q.Sort, q.Desc = "since", true
	}
	// An address with a history has a page of its own, suppressed or not.
	if strings.Contains(q.Search, "@") {
		if addr, err := store.Normalize(q.Search); err == nil {
			events, _, err := h.store.History(r.Context(), addr, 0, 1)
			if err != nil {
				h.serverError(w, r, err)
				return
			}
			if len(events) > 0 {
				http.Redirect(w, r, recipientURL(addr), http.StatusSeeOther)
				return
			}
		}
	}
	pageNo, _ := strconv.Atoi(in.Get("page"))
	pageNo = max(pageNo, 1)
	q.Offset = (pageNo - 1) * q.Limit
	res, err := h.store.ListSuppressions(r.Context(), q)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	l := pickLang(r)
	p := listPage{Query: q, Total: res.Total, Page: pageNo, Reasons: suppressionReasons,
		Filtered: q.Search != "" || q.Reason != "" || q.Domain != "",
		Pages:    max(1, (res.Total+q.Limit-1)/q.Limit), Sort: make(map[string]sortLink)}
	for _, s := range res.Items {
		row := listRow{ListedSuppression: s, Domain: domainOf(s.Address)}
		if e, ok := l.Explain(s.Detail); ok {
			row.Cause = e.Cause
		}
		p.Rows = append(p.Rows, row)
	}
	link := func(change func(url.Values)) string {
		v := url.Values{}
		for _, k := range []string{"q", "reason", "domain", "sort", "dir"} {
			if s := in.Get(k); s != "" {
				v.Set(k, s)
			}
		}
		change(v)
		if len(v) == 0 {
			return prefix + "/"
		}
		return prefix + "/?" + v.Encode()
	}
	p.LiftURL = prefix + "/lift"
	keep := url.Values{}
	for _, k := range []string{"q", "reason", "domain"} {
		if s := strings.TrimSpace(in.Get(k)); s != "" {
			keep.Set(k, s)
		}
	}
	if len(keep) > 0 {
		p.LiftURL += "?" + keep.Encode()
	}
	if pageNo > 1 {
		p.PrevURL = link(func(v url.Values) { v.Set("page", strconv.Itoa(pageNo-1)) })
	}
	if pageNo < p.Pages {
		p.NextURL = link(func(v url.Values) { v.Set("page", strconv.Itoa(pageNo+1)) })
	}
	for _, col := range []string{"address", "reason", "detail", "since"} {
		sl := sortLink{}
		desc := false
		if col == q.Sort {
			sl.Arrow = "▲"
			if q.Desc {
				sl.Arrow = "▼"
			}
			desc = !q.Desc
		}
		sl.URL = link(func(v url.Values) {
			v.Set("sort", col)
			v.Del("dir")
			if desc {
				v.Set("dir", "desc")
			}
		})
		p.Sort[col] = sl
	}
	for _, reason := range classify.Reasons() {
		p.AddReasons = append(p.AddReasons, string(reason))
	}
	h.render(w, r, http.StatusOK, "list", view{User: u, Nav: "list", Flash: flash(r), Data: p})
}

// flash returns the T key of an action's result named in the URL.
func flash(r *http.Request) string {
	switch r.URL.Query().Get("done") {
	case "lifted":
		return "lifted"
	case "added":
		return "added"
	}
	return ""
}

// recipientPage is the Data of a recipient's page.
type recipientPage struct {
	Recipient store.Recipient
	Counts    []classCount
	Events    []eventRow // newest first, one page of the timeline
	// OlderURL and NewestURL page through the timeline; "" when there is
	// nothing older, or when this is the newest page.
	OlderURL, NewestURL string
	Reasons             []reasonText
	Explain             *Explanation       // of the suppression's detail, or of the last reason
	Audit               []store.AuditEntry // newest first
}

type classCount struct {
	Class string
	N     int
}

type eventRow struct {
	store.Event
	Admin bool   // a suppress or lift by hand
	Cause string // of the reason
}

type reasonText struct {
	Token string
	Explanation
}

// recipient serves GET /admin/recipient/{address}.
func (h *handler) recipient(w http.ResponseWriter, r *http.Request, u user) {
	addr, err := store.Normalize(r.PathValue("address"))
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "badAddressTitle", "invalidAddress")
		return
	}
	var before uint64
	if b := r.URL.Query().Get("before"); b != "" {
		if before, err = strconv.ParseUint(b, 10, 64); err != nil {
			h.fail(w, r, http.StatusBadRequest, "badRequest", "")
			return
		}
	}
	rec, _, err := h.store.Recipient(r.Context(), addr)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "notFound", "unknownRecipient")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	events, next, err := h.store.History(r.Context(), addr, before, h.opts.TimelinePage)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	audit, err := h.store.Audit(r.Context(), addr, maxAudit)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	l := pickLang(r)
	p := recipientPage{Recipient: rec, Audit: audit}
	for _, c := range classes {
		if n := rec.Counts[c]; n > 0 {
			p.Counts = append(p.Counts, classCount{c, n})
		}
	}
	if next != 0 {
		p.OlderURL = recipientURL(addr) + "?before=" + strconv.FormatUint(next, 10)
	}
	if before != 0 {
		p.NewestURL = recipientURL(addr)
	}
	seen := make(map[string]bool)
	for _, e := range events {
		row := eventRow{Event: e, Admin: e.Class == "admin"}
		if ex, ok := l.Explain(e.Reason); ok && !row.Admin {
			row.Cause = ex.Cause
			if !seen[e.Reason] {
				seen[e.Reason] = true
				p.Reasons = append(p.Reasons, reasonText{e.Reason, ex})
			}
		}
		p.Events = append(p.Events, row)
	}
	key := rec.LastReason
	if rec.Suppression != nil {
		key = rec.Suppression.Detail
	}
	if ex, ok := l.Explain(key); ok {
		p.Explain = &ex
	}
	h.render(w, r, http.StatusOK, "recipient", view{User: u, Nav: "list", Title: rec.Address,
		Flash: flash(r), Data: p})
}

// maxAudit is how many audit entries a recipient's page shows.
const maxAudit = 50

// maxNote bounds a note typed in a form.
const maxNote = 1000

// lift serves POST /admin/recipient/{address}/lift (note).
func (h *handler) lift(w http.ResponseWriter, r *http.Request, u user) {
	addr, err := store.Normalize(r.PathValue("address"))
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "badAddressTitle", "invalidAddress")
		return
	}
	note := clip(r.PostFormValue("note"), maxNote)
	err = h.store.Lift(r.Context(), u.actor(), addr, note)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "notFound", "unknownRecipient")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("admin: suppression lifted", "address", addr, "by", u.actor())
	http.Redirect(w, r, recipientURL(addr)+"?done=lifted", http.StatusSeeOther)
}

// suppress serves POST /admin/suppress (address, reason, note).
func (h *handler) suppress(w http.ResponseWriter, r *http.Request, u user) {
	addr, err := store.Normalize(r.PostFormValue("address"))
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "badAddressTitle", "invalidAddress")
		return
	}
	reason := clip(strings.TrimSpace(r.PostFormValue("reason")), 64)
	note := clip(r.PostFormValue("note"), maxNote)
	if _, err := h.store.Suppress(r.Context(), u.actor(), addr, reason, note); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("admin: address suppressed", "address", addr, "reason", reason, "by", u.actor())
	http.Redirect(w, r, recipientURL(addr)+"?done=added", http.StatusSeeOther)
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// reasonsPage is the Data of the reason glossary.
type reasonsPage struct {
	Groups []reasonGroup
}

type reasonGroup struct {
	Class   string
	Reasons []reasonText
}

// reasons serves GET /admin/reasons: every reason token explained.
func (h *handler) reasons(w http.ResponseWriter, r *http.Request, u user) {
	l := pickLang(r)
	var p reasonsPage
	for _, class := range classes {
		g := reasonGroup{Class: class}
		for _, reason := range classify.Reasons() {
			if string(classify.ClassOf(reason)) == class {
				ex, _ := l.Explain(string(reason))
				g.Reasons = append(g.Reasons, reasonText{string(reason), ex})
			}
		}
		if len(g.Reasons) > 0 {
			p.Groups = append(p.Groups, g)
		}
	}
	h.render(w, r, http.StatusOK, "reasons", view{User: u, Nav: "reasons", Title: l.T["reasonsTitle"], Data: p})
}
