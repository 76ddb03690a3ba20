package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/bouncesink/bouncesink/store"
)

// messagePage is the Data of the raw message view.
type messagePage struct {
	ID        uint64
	Text      string // valid UTF-8; the template escapes it
	Truncated bool
	Size      int
	Back      string // the recipient page the link came from, if any
}

// maxShown bounds what the HTML view shows of a message; the plain-text
// view has all of it.
const maxShown = 512 << 10

// message serves GET /admin/message/{id}: the raw message as text inside
// the page, escaped by html/template like any other value.
func (h *handler) message(w http.ResponseWriter, r *http.Request, u user) {
	id, raw, ok := h.loadMessage(w, r)
	if !ok {
		return
	}
	p := messagePage{ID: id, Size: len(raw)}
	if len(raw) > maxShown {
		raw, p.Truncated = raw[:maxShown], true
	}
	p.Text = strings.ToValidUTF8(string(raw), "\uFFFD")
	if back := r.URL.Query().Get("from"); back != "" {
		if addr, err := store.Normalize(back); err == nil {
			p.Back = recipientURL(addr)
		}
	}
	l := pickLang(r)
	h.render(w, r, http.StatusOK, "message", view{User: u, Nav: "list",
		Title: l.T["rawTitle"] + " #" + strconv.FormatUint(id, 10), Data: p})
}

// rawMessage serves GET /admin/message/{id}/raw: the bytes as received,
// as text/plain that no browser may sniff into HTML or run (the CSP
// sandbox makes even a mislabelled response an inert document).
func (h *handler) rawMessage(w http.ResponseWriter, r *http.Request, u user) {
	id, raw, ok := h.loadMessage(w, r)
	if !ok {
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("Content-Disposition", `inline; filename="message-`+strconv.FormatUint(id, 10)+`.eml"`)
	w.Write(raw)
}

func (h *handler) loadMessage(w http.ResponseWriter, r *http.Request) (uint64, []byte, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		h.fail(w, r, http.StatusNotFound, "notFound", "")
		return 0, nil, false
	}
	raw, err := h.store.RawMessage(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "notFound", "")
		return 0, nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return 0, nil, false
	}
	return id, raw, true
}
