package api

import "context"

type actorKey struct{}

// WithActor returns ctx naming who acts: the name of the token that
// authenticated the request. The store records it in the audit trail.
func WithActor(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, actorKey{}, name)
}

// ActorFrom returns the actor WithActor put in ctx, or "api" when there is none.
func ActorFrom(ctx context.Context) string {
	if name, ok := ctx.Value(actorKey{}).(string); ok && name != "" {
		return name
	}
	return "api"
}
