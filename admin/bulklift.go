package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// bulkLiftPage is the Data of the bulk lift page.
type bulkLiftPage struct {
	Form    liftForm
	Reasons []string
	Sources []string
	Error   string            // T key of what is wrong with the form
	Preview *store.LiftResult // after "Preview"
	Done    *store.LiftResult // after "Lift"
	BackURL string            // the list with the same filter
}

// liftForm is the filter and the note, as typed.
type liftForm struct {
	Q, Reason, Domain, Source, Detail, Decoder, Rule, Since, Until, Note string
}

func readLiftForm(v url.Values) liftForm {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return liftForm{Q: get("q"), Reason: get("reason"), Domain: get("domain"), Source: get("source"), Detail: get("detail"),
		Decoder: get("decoder"), Rule: get("rule"), Since: get("since"), Until: get("until"), Note: clip(v.Get("note"), maxNote)}
}

// filter is the store's filter of the form; ok is false for a date that
// does not read.
func (f liftForm) filter() (store.LiftFilter, bool) {
	out := store.LiftFilter{SuppressionFilter: store.SuppressionFilter{Search: f.Q, Reason: f.Reason, Domain: f.Domain},
		Source: f.Source, Detail: f.Detail, Decoder: f.Decoder, Rule: f.Rule}
	for _, d := range []struct {
		s     string
		t     *time.Time
		until bool
	}{{f.Since, &out.Since, false}, {f.Until, &out.Until, true}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.s)
		if err != nil {
			return out, false
		}
		if d.until {
			t = t.Add(24*time.Hour - time.Nanosecond) // the whole day
		}
		*d.t = t
	}
	return out, true
}

// bulkLift serves GET /admin/lift (the form, filled from the list's filter
// in the query) and POST /admin/lift (action preview: a dry run; action
// lift: the lift, which needs a note).
func (h *handler) bulkLift(w http.ResponseWriter, r *http.Request, u user) {
	in := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, http.StatusBadRequest, "error", "")
			return
		}
		in = r.PostForm
	}
	p := bulkLiftPage{Form: readLiftForm(in), Reasons: suppressionReasons,
		Sources: []string{store.SourcePolicy, store.SourceManual, store.SourceImport}}
	back := url.Values{}
	for k, v := range map[string]string{"q": p.Form.Q, "reason": p.Form.Reason, "domain": p.Form.Domain} {
		if v != "" {
			back.Set(k, v)
		}
	}
	p.BackURL = prefix + "/"
	if len(back) > 0 {
		p.BackURL += "?" + back.Encode()
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		action := r.PostFormValue("action")
		f, ok := p.Form.filter()
		switch {
		case !ok:
			p.Error = "liftBadDate"
		case f.Empty():
			p.Error = "liftNeedsFilter"
		case strings.TrimSpace(p.Form.Note) == "":
			p.Error = "liftNeedsNote"
		case action != "preview" && action != "lift":
			p.Error = "liftNeedsFilter"
		}
		if p.Error != "" {
			status = http.StatusBadRequest
		} else {
			res, err := h.store.LiftMatching(r.Context(), u.actor(), f, p.Form.Note, action == "preview")
			if err != nil && !errors.Is(err, store.ErrEmptyFilter) {
				h.serverError(w, r, err)
				return
			}
			if action == "preview" {
				p.Preview = &res
			} else {
				h.log.Info("admin: bulk lift", "matched", res.Matched, "lifted", res.Lifted, "by", u.actor())
				p.Done = &res
			}
		}
	}
	h.render(w, r, status, "lift", view{User: u, Nav: "list", Data: p})
}
