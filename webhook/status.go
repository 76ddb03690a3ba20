package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// EndpointStatus is one endpoint's state: where it is in the trail, how
// far behind, and how its deliveries went.
type EndpointStatus struct {
	Name   string `json:"name"`
	URL    string `json:"url"` // redacted (RedactURL)
	Format Format `json:"format"`
	// Position is the seq of the last entry dealt with, as this process
	// knows it: with a shared store (Options.Leases), an endpoint another
	// process serves shows the position it had when this one last served
	// it, 0 if never.
	Position uint64 `json:"position"`
	// LagSeconds is the age of the oldest entry not yet dealt with; 0
	// when the endpoint is caught up.
	LagSeconds float64 `json:"lag_seconds"`
	// Delivered and FailedAttempts count since the server started.
	Delivered      int       `json:"delivered"`
	FailedAttempts int       `json:"failed_attempts"`
	DeadLetters    int       `json:"dead_letters"` // all ever
	LastError      string    `json:"last_error,omitempty"`
	LastErrorAt    time.Time `json:"last_error_at,omitzero"`
}

// Status returns every endpoint's state, in configuration order.
func (d *Dispatcher) Status(ctx context.Context) ([]EndpointStatus, error) {
	var out []EndpointStatus
	now := d.opts.Now()
	for _, e := range d.opts.Endpoints {
		live := d.live[e.Name]
		live.mu.Lock()
		st := EndpointStatus{Name: e.Name, URL: RedactURL(e.URL), Format: e.Format, Position: live.position,
			Delivered: live.delivered, FailedAttempts: live.failed, LastError: live.lastError, LastErrorAt: live.lastErrorAt,
			DeadLetters: d.state.deadCount(e.Name)}
		live.mu.Unlock()
		next, err := d.opts.Feed.AuditAfter(ctx, st.Position, 1)
		if err != nil {
			return nil, fmt.Errorf("webhook: status: %w", err)
		}
		if len(next) > 0 {
			st.LagSeconds = max(now.Sub(next[0].Time).Seconds(), 0)
		}
		out = append(out, st)
	}
	return out, nil
}

// ErrUnknownEndpoint is DeadLetters' answer for a name no endpoint has.
var ErrUnknownEndpoint = errors.New("webhook: no such endpoint")

// DeadLetters returns the dead letters of the endpoint named endpoint
// ("" for every endpoint), newest first, at most limit (0 for all kept),
// and how many there were in all.
func (d *Dispatcher) DeadLetters(endpoint string, limit int) ([]DeadLetter, int, error) {
	if endpoint != "" {
		if _, ok := d.live[endpoint]; !ok {
			return nil, 0, fmt.Errorf("%w %q", ErrUnknownEndpoint, endpoint)
		}
	}
	list, total := d.state.deadLetters(endpoint, limit)
	return list, total, nil
}
