package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// listmonkFormat records one bounce in listmonk, through its bounce API,
// for each suppression (an entry that suppresses an address, or suppresses
// it for another reason):
//
//	POST {url}/webhooks/bounce
//	Authorization: token API_USER:API_TOKEN
//	Content-Type: application/json
//
//	{"email": "alice@example.org",
//	 "subscriber_uuid": "...", "campaign_uuid": "...",
//	 "source": "bouncesink", "type": "hard",
//	 "created_at": "2025-01-02T03:04:05Z",
//	 "meta": {"reason": "user_unknown", "status": "5.1.1", ...}}
//
// listmonk keeps the bounce in its bounce records and in the campaign's
// counts, and applies the action its settings give the type (Settings ->
// Bounces: count and action per type). The type is the suppression's:
// hard, soft (the policy saw a run of soft bounces) or complaint; a
// suppression made by hand or by an import is a hard bounce there unless
// it says complaint. subscriber_uuid and campaign_uuid come from the
// X-Listmonk-Subscriber and X-Listmonk-Campaign fields that listmonk
// stamps on every campaign message, when the returned message in the
// bounce that decided carried them: listmonk then finds the subscriber by
// its UUID (exact, whatever the address in the report) and counts the
// bounce against the campaign. The email is always sent besides.
//
// Only suppressions are sent, not every verdict: bouncesink's policy has
// already weighed the bounces (a run of soft bounces over days, a
// delivery forgiving what bounced before, a complaint that is a DMARC
// report), and listmonk's per-type counts would weigh them again without
// a window or a delivery to reset them. So set every type's count to 1
// there. A lift sends nothing: the bounce API has no undo, and the role
// bouncesink uses may only post bounces; lift the subscriber in listmonk
// by hand (its bounces, then its status).
//
// listmonk answers 200 {"data": true} before it writes the bounce, and
// for an address it does not know too: a 200 says listmonk took the
// request, not that a subscriber was found. It answers 400 for a field it
// refuses, 403 (not 401) for bad credentials or a role without
// webhooks:post_bounce, 404 when bounce webhooks are off (the route does
// not exist) and 503 when bounce processing is off: every one of these is
// a dead letter, the last by listmonkClassify.
type listmonkFormat struct{ root string }

// listmonkBounce is the body of POST /webhooks/bounce.
type listmonkBounce struct {
	Email          string         `json:"email"`
	SubscriberUUID string         `json:"subscriber_uuid,omitempty"`
	CampaignUUID   string         `json:"campaign_uuid,omitempty"`
	Source         string         `json:"source"`
	Type           string         `json:"type"`
	CreatedAt      time.Time      `json:"created_at"`
	Meta           map[string]any `json:"meta"`
}

func (listmonkFormat) wants(e store.AuditEntry) bool { return e.After != nil }

func (f listmonkFormat) attempt(ctx context.Context, c *caller, e store.AuditEntry) Attempt {
	body, err := jsonBody(listmonkBody(e))
	if err != nil {
		return Attempt{Problem: err.Error()}
	}
	a, _ := c.do(ctx, call{method: http.MethodPost, url: f.root + "/webhooks/bounce", body: body})
	return a
}

func listmonkBody(e store.AuditEntry) listmonkBounce {
	s := e.After
	b := listmonkBounce{Email: e.Address, Source: "bouncesink", Type: bounceType(*s), CreatedAt: s.Since.UTC(),
		Meta: map[string]any{"suppression": s.Reason, "reason": s.Detail, "bouncesink_seq": e.Seq, "actor": e.Actor}}
	if e.Note != "" {
		b.Meta["note"] = e.Note
	}
	if e.MessageID != 0 {
		b.Meta["bouncesink_message_id"] = e.MessageID
	}
	if v := e.Verdict; v != nil {
		for k, x := range map[string]string{"class": v.Class, "status": v.Status, "diagnostic": store.Clip(v.Diagnostic, 1000),
			"remote_mta": v.RemoteMTA, "decoder": v.Decoder, "rule": v.Rule} {
			if x != "" {
				b.Meta[k] = x
			}
		}
		if v.SMTPCode != 0 {
			b.Meta["smtp_code"] = v.SMTPCode
		}
		// listmonk refuses a malformed UUID with a 400: what it cannot
		// use is left out rather than losing the bounce.
		if isUUID(v.ListmonkSubscriber) {
			b.SubscriberUUID = strings.ToLower(v.ListmonkSubscriber)
		}
		if isUUID(v.ListmonkCampaign) {
			b.CampaignUUID = strings.ToLower(v.ListmonkCampaign)
		}
	}
	return b
}

// bounceType is the listmonk bounce type of a suppression: its reason
// when that is one, complaint for an import or a manual suppression whose
// detail says complaint or spam (an ESP's complaint list), hard otherwise.
func bounceType(s store.Suppression) string {
	switch s.Reason {
	case "hard", "soft", "complaint":
		return s.Reason
	}
	d := strings.ToLower(s.Detail)
	if strings.Contains(d, "complaint") || strings.Contains(d, "spam") {
		return "complaint"
	}
	return "hard"
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidRe.MatchString(s) }

func (listmonkFormat) classify(a Attempt) Outcome { return listmonkClassify(a) }

// listmonkClassify is Classify, but a 503 that listmonk itself sent (its
// JSON error, {"message": ...}) says bounce processing is off, which no
// retry mends: the entry is rejected. A 503 of anything else in between
// (a proxy while listmonk restarts) is retried as usual.
func listmonkClassify(a Attempt) Outcome {
	if a.Status == http.StatusServiceUnavailable && a.Err == nil {
		var msg struct {
			Message *string `json:"message"`
		}
		if bytes.HasPrefix(a.Body, []byte("{")) && json.Unmarshal(a.Body, &msg) == nil && msg.Message != nil {
			return Reject
		}
	}
	return Classify(a)
}

// listmonkBlocklist is FormatListmonkBlocklist: it blocklists each newly
// suppressed address through listmonk's "blocklist subscribers by query"
// API:
//
//	PUT {url}/api/subscribers/query/blocklist
//	Content-Type: application/json
//
//	{"query": "LOWER(subscribers.email) = 'alice@example.org'"}
//
// listmonk runs the query as an SQL expression over its subscribers table
// and sets the matching subscriber's status to blocklisted (which also
// unsubscribes it from its lists); no match is not an error. Single quotes
// in the address are doubled, the SQL string escape. A lift sends nothing.
//
// Kept for installs that rely on it, with what it costs: since listmonk v5
// the query needs the subscribers:sql_query permission, which lets the
// token run arbitrary SQL (listmonk's documentation warns of it); without
// it listmonk answers 403, a dead letter here. Since v6.1 a token with
// sql_query but without subscribers:get_all gets 200 {"data": true} and
// nothing changes: the suppression is lost without a sign. Every
// suppression, soft and manual ones too, becomes a blocklisting, and
// nothing shows in listmonk's bounce records. FormatListmonk has none of
// this.
type listmonkBlocklist struct{ root string }

func (listmonkBlocklist) wants(e store.AuditEntry) bool { return e.After != nil }
func (listmonkBlocklist) classify(a Attempt) Outcome    { return Classify(a) }

func (f listmonkBlocklist) attempt(ctx context.Context, c *caller, e store.AuditEntry) Attempt {
	q := "LOWER(subscribers.email) = '" + strings.ReplaceAll(strings.ToLower(e.Address), "'", "''") + "'"
	body, err := jsonBody(map[string]string{"query": q})
	if err != nil {
		return Attempt{Problem: err.Error()}
	}
	a, _ := c.do(ctx, call{method: http.MethodPut, url: f.root + "/api/subscribers/query/blocklist", body: body})
	return a
}
