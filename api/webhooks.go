package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/bouncesink/bouncesink/webhook"
)

// WebhookStatus is what the API shows of the webhooks (a
// *webhook.Dispatcher).
type WebhookStatus interface {
	Status(ctx context.Context) ([]webhook.EndpointStatus, error)
	DeadLetters(endpoint string, limit int) ([]webhook.DeadLetter, int, error)
}

type webhooksResponse struct {
	Endpoints []webhook.EndpointStatus `json:"endpoints"`
}

// webhookState answers GET /v1/webhooks: each endpoint's position, lag,
// deliveries and dead letters; an empty list when none is configured.
func (a *api) webhookState(w http.ResponseWriter, r *http.Request) {
	resp := webhooksResponse{Endpoints: []webhook.EndpointStatus{}}
	if a.webhooks != nil {
		list, err := a.webhooks.Status(r.Context())
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		resp.Endpoints = append(resp.Endpoints, list...)
	}
	writeJSON(w, http.StatusOK, resp)
}

type deadLettersResponse struct {
	DeadLetters []webhook.DeadLetter `json:"dead_letters"` // newest first
	Total       int                  `json:"total"`        // all ever, some no longer kept
}

// deadLetters answers GET /v1/webhooks/dead-letters?endpoint=NAME&limit=N:
// the entries endpoints refused for good, newest first.
func (a *api) deadLetters(w http.ResponseWriter, r *http.Request) {
	p := params{w: w, q: r.URL.Query()}
	limit := p.int("limit", DefaultPageSize, 1, webhook.MaxDeadLetters)
	if p.failed {
		return
	}
	resp := deadLettersResponse{DeadLetters: []webhook.DeadLetter{}}
	endpoint := r.URL.Query().Get("endpoint")
	if a.webhooks == nil {
		if endpoint != "" {
			writeError(w, http.StatusNotFound, "no webhook is configured")
			return
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	list, total, err := a.webhooks.DeadLetters(endpoint, limit)
	if errors.Is(err, webhook.ErrUnknownEndpoint) {
		writeError(w, http.StatusNotFound, "no webhook endpoint named "+endpoint)
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	resp.DeadLetters, resp.Total = append(resp.DeadLetters, list...), total
	writeJSON(w, http.StatusOK, resp)
}
