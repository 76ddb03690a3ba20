package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/bouncesink/bouncesink/store"
)

// keilaFormat marks the Keila contact of a suppressed address unreachable,
// through Keila's API (Settings -> API keys; Endpoint.Authorization
// "Bearer API_KEY"):
//
//	PATCH {url}/api/v1/contacts/alice@example.org?id_type=email
//	{"data": {"status": "unreachable"}}
//
// Keila stops sending campaigns to an unreachable contact. It handles
// bounces only for the providers whose webhooks it knows (SES, Sendgrid,
// Mailgun, Postmark); for plain SMTP senders nothing else tells it.
//
// Each entry reads the contact first (GET, same URL): a suppression marks
// it unreachable unless it is unsubscribed or unreachable already, and a
// lift sets it active again only when it is unreachable, so that a
// contact who unsubscribed stays unsubscribed whatever happens here.
// Keila answers 404 for an address that is not one of its contacts: that
// entry is a dead letter, as every 4xx but 408 and 429 (the dead-letter
// list then shows which suppressions Keila could not apply).
type keilaFormat struct{ root string }

func (keilaFormat) wants(e store.AuditEntry) bool {
	return e.After != nil || e.Action == store.AuditLift
}
func (keilaFormat) classify(a Attempt) Outcome { return Classify(a) }

func (f keilaFormat) attempt(ctx context.Context, c *caller, e store.AuditEntry) Attempt {
	u := f.root + "/api/v1/contacts/" + url.PathEscape(e.Address) + "?id_type=email"
	a, body := c.do(ctx, call{step: "read the contact", method: http.MethodGet, url: u, answer: true})
	if a.Err != nil || a.Problem != "" || a.Status/100 != 2 {
		return a
	}
	var ct struct {
		Data *struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ct); err != nil || ct.Data == nil {
		a.Problem = "the answer is not a Keila contact"
		return a
	}
	switch status := ct.Data.Status; {
	case e.After != nil && status != "unsubscribed" && status != "unreachable":
		return f.set(ctx, c, u, "unreachable")
	case e.After == nil && status == "unreachable":
		return f.set(ctx, c, u, "active")
	default:
		a.Done = "the contact is " + status + ": left as it is"
		return a
	}
}

func (keilaFormat) set(ctx context.Context, c *caller, u, status string) Attempt {
	body, err := jsonBody(map[string]any{"data": map[string]string{"status": status}})
	if err != nil {
		return Attempt{Problem: err.Error()}
	}
	a, _ := c.do(ctx, call{step: "set the contact " + status, method: http.MethodPatch, url: u, body: body})
	return a
}
