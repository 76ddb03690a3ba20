package store

import "context"

// EndpointLeaser is implemented by an engine that several processes
// share (pgstore): it keeps each webhook endpoint's position in the audit
// trail in the store, and lets one process at a time serve an endpoint,
// so that no entry goes to one endpoint twice in parallel. An engine that
// one process holds (boltstore) has no need of it.
type EndpointLeaser interface {
	// LeaseEndpoint waits until this process holds the lease of the
	// endpoint (any string naming it, such as its URL), or ctx ends. A
	// lease lasts until Release, Close of the store, or the loss of the
	// process or of its connection to the database.
	LeaseEndpoint(ctx context.Context, endpoint string) (EndpointLease, error)
}

// EndpointLease is one process's right to serve one endpoint.
type EndpointLease interface {
	// Cursor returns the sequence number of the last audit entry the
	// endpoint took, 0 for one never served.
	Cursor(ctx context.Context) (uint64, error)
	// SetCursor records that the endpoint took the entries up to seq. It
	// fails once the lease is lost.
	SetCursor(ctx context.Context, seq uint64) error
	// Lost is closed when the lease is lost (the connection that holds it
	// failed): the holder must stop serving the endpoint and lease again.
	Lost() <-chan struct{}
	// Release gives the lease up.
	Release()
}
