package webhook

import (
	"encoding/json"
	"fmt"

	"github.com/bouncesink/bouncesink/store"
)

// Payload is the JSON body of a bouncesink-format request: the audit
// entry (the fields of GET /v1/audit) and an event name for routing.
type Payload struct {
	// Event is "suppression.added" (action suppress), "suppression.lifted"
	// (lift) or "suppression.changed" (change: a reclassification
	// suppressed the address for another reason).
	Event string `json:"event"`
	store.AuditEntry
}

func eventName(action string) string {
	switch action {
	case store.AuditSuppress:
		return "suppression.added"
	case store.AuditLift:
		return "suppression.lifted"
	case store.AuditChange:
		return "suppression.changed"
	}
	return "suppression." + action
}

// jsonBody encodes v as a request body.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	return b, nil
}
