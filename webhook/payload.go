package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/bouncesink/bouncesink/store"
)

// Format is the shape of the requests sent to an endpoint.
type Format string

const (
	// FormatBouncesink POSTs one Payload per change of the audit trail.
	FormatBouncesink Format = "bouncesink"
	// FormatListmonk blocklists each newly suppressed address in a
	// listmonk install; see listmonkRequest.
	FormatListmonk Format = "listmonk"
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

// request is what is sent for one audit entry; nil when the format has
// nothing to say about it.
type request struct {
	method, url string
	body        []byte
}

func bouncesinkRequest(url string, e store.AuditEntry) (*request, error) {
	body, err := json.Marshal(Payload{Event: eventName(e.Action), AuditEntry: e})
	if err != nil {
		return nil, fmt.Errorf("webhook: encode entry %d: %w", e.Seq, err)
	}
	return &request{method: http.MethodPost, url: url, body: body}, nil
}

// listmonkRequest blocklists e's address in listmonk once it is suppressed,
// through listmonk's "blocklist subscribers by query" API:
//
//	PUT {url}/api/subscribers/query/blocklist
//	Content-Type: application/json
//
//	{"query": "LOWER(subscribers.email) = 'alice@example.org'"}
//
// listmonk runs the query as an SQL expression over its subscribers table
// and sets the matching subscriber's status to blocklisted (which also
// unsubscribes it from its lists); no match is not an error. Single quotes
// in the address are doubled, the SQL string escape. A lift sends nothing:
// listmonk offers no query to undo a blocklisting, and a lifted address
// is for a person to re-enable there.
func listmonkRequest(url string, e store.AuditEntry) (*request, error) {
	if e.After == nil {
		return nil, nil
	}
	q := "LOWER(subscribers.email) = '" + strings.ReplaceAll(strings.ToLower(e.Address), "'", "''") + "'"
	body, err := json.Marshal(map[string]string{"query": q})
	if err != nil {
		return nil, fmt.Errorf("webhook: encode entry %d: %w", e.Seq, err)
	}
	return &request{method: http.MethodPut, url: strings.TrimRight(url, "/") + "/api/subscribers/query/blocklist", body: body}, nil
}
