package admin

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/classify"
)

// view is what every page template gets.
type view struct {
	L     lang
	T     map[string]string // L.T, for short
	User  user
	CSRF  string
	Nav   string // the highlighted navigation entry
	Title string
	Flash string // a T key to show once, after an action
	// SignedIn is true when the page is seen in a session signed in with
	// a token, so the page offers to sign out.
	SignedIn bool
	Data     any // the page's own
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso":          func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"recipientURL": recipientURL,
	"classKnown":   classKnown,
	"printf":       fmt.Sprintf,
	"addf":         func(a, b float64) float64 { return a + b },
}

// classKnown returns class if the style sheet has a colour for it, else
// "unknown", so any class from the store maps to a CSS class name.
func classKnown(class string) string {
	switch class {
	case "hard", "soft", "block", "complaint", "autoreply", "delayed", "delivered", "admin",
		"manual":
		return class
	}
	return "unknown"
}

// classes lists the verdict classes in the order the page shows them.
var classes = []string{
	string(classify.Hard), string(classify.Soft), string(classify.Block), string(classify.Complaint),
	string(classify.AutoReply), string(classify.Delayed), string(classify.Delivered), string(classify.Unknown),
}

// parsePages parses each page with the shared layout.
func parsePages() map[string]*template.Template {
	pages := make(map[string]*template.Template)
	for _, name := range []string{"list", "recipient", "message", "stats", "reasons", "login", "error", "webhooks", "lift"} {
		t := template.New(name).Funcs(funcs).Option("missingkey=error")
		pages[name] = template.Must(t.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// render writes page with data, in the request's language.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.L = pickLang(r)
	v.T = v.L.T
	ss := h.formSession(w, r, v.User)
	v.CSRF, v.SignedIn = ss.csrf, ss.signedIn
	if v.Title != "" && !strings.Contains(v.Title, "bouncesink") {
		v.Title += " · " + v.T["title"]
	} else if v.Title == "" {
		v.Title = v.T["title"]
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("admin: template failed", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", v.L.Tag)
	w.Header().Set("Vary", "Accept-Language")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is the Data of the error page.
type errorPage struct {
	Heading string
	Message string
}

// fail answers status with a page saying heading and message (T keys).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	u, _ := h.who(r)
	l := pickLang(r)
	e := errorPage{Heading: l.T[heading]}
	if message != "" {
		e.Message = l.T[message]
	}
	h.render(w, r, status, "error", view{User: u, Title: e.Heading, Data: e})
}

// recipientURL is the path of addr's page.
func recipientURL(addr string) string {
	return prefix + "/recipient/" + url.PathEscape(addr)
}
