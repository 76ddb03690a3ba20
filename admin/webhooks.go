package admin

import (
	"context"
	"net/http"

	"github.com/bouncesink/bouncesink/webhook"
)

// Webhooks is what the page shows of the webhook dispatcher (a
// *webhook.Dispatcher).
type Webhooks interface {
	Status(ctx context.Context) ([]webhook.EndpointStatus, error)
	DeadLetters(endpoint string, limit int) ([]webhook.DeadLetter, int, error)
}

// webhooksPage is the Data of the webhooks page.
type webhooksPage struct {
	Configured  bool
	Endpoints   []webhook.EndpointStatus
	DeadLetters []webhook.DeadLetter // newest first
	DeadTotal   int
}

// maxDeadShown is how many dead letters the page lists.
const maxDeadShown = 200

// webhooks serves GET /admin/webhooks: each endpoint's state, and the
// entries the endpoints refused for good.
func (h *handler) webhooks(w http.ResponseWriter, r *http.Request, u user) {
	l := pickLang(r)
	var p webhooksPage
	if h.opts.Webhooks != nil {
		p.Configured = true
		var err error
		if p.Endpoints, err = h.opts.Webhooks.Status(r.Context()); err != nil {
			h.serverError(w, r, err)
			return
		}
		if p.DeadLetters, p.DeadTotal, err = h.opts.Webhooks.DeadLetters("", maxDeadShown); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "webhooks", view{User: u, Nav: "webhooks", Title: l.T["webhooksTitle"], Data: p})
}
