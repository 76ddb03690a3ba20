package admin

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// statsPage is the Data of the statistics page.
type statsPage struct {
	Days     int
	From, To time.Time
	Chart    chart
	PerDay   []DayCount // for the table under the chart, newest first
	Classes  []string
	Domains  []DomainCount
	// BlockDomains are the domains with the most block verdicts in the
	// last 24 hours: a whole domain refusing the sender.
	BlockDomains []DomainCount
	Reasons      []reasonCount
	Totals       store.Stats
}

type reasonCount struct {
	Token string
	Class string // the verdicts' class, not the token's usual one
	N     int
	Cause string
}

// classRank is class's place in classes; unknown classes go last.
func classRank(class string) int {
	if i := slices.Index(classes, class); i >= 0 {
		return i
	}
	return len(classes)
}

// topDomains is how many failing domains the page lists.
const topDomains = 15

// stats serves GET /admin/stats.
func (h *handler) stats(w http.ResponseWriter, r *http.Request, u user) {
	act, err := h.store.Activity(r.Context(), h.opts.StatsDays)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	totals, err := h.store.Totals(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	l := pickLang(r)
	p := statsPage{Days: h.opts.StatsDays, Chart: newChart(act.Days), Classes: classes, Totals: totals}
	if n := len(act.Days); n > 0 {
		p.From, p.To = act.Days[0].Day, act.Days[n-1].Day
	}
	p.Domains = act.Domains[:min(len(act.Domains), topDomains)]
	p.BlockDomains = act.BlockDomains[:min(len(act.BlockDomains), topDomains)]
	for i := len(act.Days) - 1; i >= 0; i-- {
		if len(act.Days[i].ByClass) > 0 {
			p.PerDay = append(p.PerDay, act.Days[i])
		}
	}
	for cr, n := range act.ByReason {
		rc := reasonCount{Token: cr.Reason, N: n, Class: cr.Class}
		if ex, ok := l.Explain(cr.Reason); ok {
			rc.Cause = ex.Cause
		}
		p.Reasons = append(p.Reasons, rc)
	}
	// By class in the page's order, then most frequent first.
	slices.SortFunc(p.Reasons, func(a, b reasonCount) int {
		return cmp.Or(cmp.Compare(classRank(a.Class), classRank(b.Class)), cmp.Compare(b.N, a.N), cmp.Compare(a.Token, b.Token))
	})
	h.render(w, r, http.StatusOK, "stats", view{User: u, Nav: "stats", Title: l.T["statsTitle"], Data: p})
}
