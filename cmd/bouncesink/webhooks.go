package main

import (
	"context"
	"log/slog"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/webhook"
)

// webhooks runs the webhook dispatcher beside the servers. A nil
// *webhooks (none configured) does nothing.
type webhooks struct {
	d      *webhook.Dispatcher
	cancel context.CancelFunc
	done   chan struct{}
}

func newWebhooks(cfg Config, feed webhook.Feed, obs webhook.Observer, log *slog.Logger) (*webhooks, error) {
	eps, err := cfg.webhookEndpoints()
	if err != nil || len(eps) == 0 {
		return nil, err
	}
	o := webhook.Options{Feed: feed, Endpoints: eps, CursorPath: cfg.webhookCursorPath(), Observer: obs, Logger: log}
	if l, ok := feed.(store.EndpointLeaser); ok {
		o.Leases = l // several instances share the store: one serves each endpoint
	}
	d, err := webhook.New(o)
	if err != nil {
		return nil, err
	}
	return &webhooks{d: d}, nil
}

// status is the dispatcher, for the metrics: nil when no webhook is
// configured.
func (h *webhooks) status() *webhook.Dispatcher {
	if h == nil {
		return nil
	}
	return h.d
}

// webhookStatus is what the API and the admin page show of the webhooks:
// a nil interface when none are configured.
func webhookStatus(h *webhooks) api.WebhookStatus {
	if h == nil {
		return nil
	}
	return h.d
}

// start follows the audit trail in the background until stop.
func (h *webhooks) start() {
	if h == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.d.Run(ctx)
	}()
}

// stop ends the deliveries in flight (they are sent again after a
// restart) and returns once the dispatcher no longer reads the database.
func (h *webhooks) stop() {
	if h == nil || h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}
