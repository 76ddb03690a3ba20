package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// loginPage is the Data of the sign-in form.
type loginPage struct {
	Failed  bool
	Limited bool // too many failed attempts from this client
}

// loginForm serves GET /admin/login.
func (h *handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.who(r); h.opts.CheckToken == nil || ok {
		http.Redirect(w, r, prefix+"/", http.StatusSeeOther)
		return
	}
	l := pickLang(r)
	h.render(w, r, http.StatusOK, "login", view{Title: l.T["loginTitle"], Data: loginPage{}})
}

// login serves POST /admin/login (token). The form must come with the
// CSRF token of the session that showed it, a session of no one; a valid
// token replaces that session by a new one, signed in as the token's
// holder.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if h.opts.CheckToken == nil {
		h.fail(w, r, http.StatusNotFound, "notFound", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ss := h.sessions.get(r)
	if ss == nil || ss.user != (user{}) || !ss.validCSRF(r) {
		h.fail(w, r, http.StatusForbidden, "forbidden", "badCSRF")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	name, role, err := h.opts.CheckToken(r, token)
	var limited interface{ RetryAfter() time.Duration }
	if token == "" || err != nil {
		l := pickLang(r)
		status, page := http.StatusUnauthorized, loginPage{Failed: true}
		if errors.As(err, &limited) {
			w.Header().Set("Retry-After", strconv.Itoa(int(limited.RetryAfter().Seconds())+1))
			status, page = http.StatusTooManyRequests, loginPage{Limited: true}
		}
		h.render(w, r, status, "login", view{Title: l.T["loginTitle"], Data: page})
		return
	}
	h.sessions.remove(ss) // its cookie is replaced by the new session's
	h.sessions.start(w, r, user{name, role}, true, h.secure(r))
	h.log.Info("admin: signed in", "user", name, "role", role)
	http.Redirect(w, r, prefix+"/", http.StatusSeeOther)
}

// logout serves POST /admin/logout: it deletes the session.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ss := h.sessions.get(r)
	if !ss.validCSRF(r) {
		h.fail(w, r, http.StatusForbidden, "forbidden", "badCSRF")
		return
	}
	h.sessions.end(w, ss, h.secure(r))
	dest := prefix + "/"
	if h.opts.CheckToken != nil {
		dest = prefix + "/login"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}
