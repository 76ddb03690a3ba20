package admin

import (
	"net/http"
	"strings"
)

// loginPage is the Data of the sign-in form.
type loginPage struct {
	Failed bool
}

// loginForm serves GET /admin/login.
func (h *handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if h.opts.CheckToken == nil {
		http.Redirect(w, r, prefix+"/", http.StatusSeeOther)
		return
	}
	l := pickLang(r)
	h.render(w, r, http.StatusOK, "login", view{Title: l.T["loginTitle"], Data: loginPage{}})
}

// login serves POST /admin/login (token): a valid token goes into an
// HttpOnly cookie, scoped to the admin page, for the browser session.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if h.opts.CheckToken == nil {
		h.fail(w, r, http.StatusNotFound, "notFound", "")
		return
	}
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "forbidden", "badCSRF")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if _, _, ok := h.opts.CheckToken(token); token == "" || !ok {
		l := pickLang(r)
		h.render(w, r, http.StatusUnauthorized, "login", view{Title: l.T["loginTitle"], Data: loginPage{Failed: true}})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: tokenCookie, Value: token, Path: prefix + "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, prefix+"/", http.StatusSeeOther)
}

// logout serves POST /admin/logout: it forgets the token cookie.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "forbidden", "badCSRF")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: "", Path: prefix + "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	dest := prefix + "/"
	if h.opts.CheckToken != nil {
		dest = prefix + "/login"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}
