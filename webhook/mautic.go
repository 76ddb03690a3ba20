package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/bouncesink/bouncesink/store"
)

// mauticFormat keeps Mautic's Do Not Contact list on the email channel in
// step with the suppressions, through Mautic's REST API (Mautic 4 and 5):
//
//	GET  {url}/api/contacts?search=email:alice@example.org&limit=100
//	POST {url}/api/contacts/{id}/dnc/email/add     {"reason": 2, "comments": "bouncesink: ..."}
//	POST {url}/api/contacts/{id}/dnc/email/remove
//
// A suppression finds the contacts whose email is the address (Mautic's
// search matches with LIKE, so the answer is filtered for the address
// itself; Mautic allows several contacts with one address, and each is
// marked) and marks each that has no Do Not Contact entry on email yet,
// with reason 2 (bounced) for a hard or soft suppression or an import, 1
// (unsubscribed) for a complaint and 3 (manual) for a manual suppression,
// and comments that start with "bouncesink". A lift removes the entry only
// from the contacts whose entry bouncesink made (its comments start so):
// a contact who unsubscribed in Mautic stays unsubscribed. An address with
// no contact in Mautic is nothing to do.
//
// Credentials, as Mautic's API documentation gives them: HTTP Basic
// (Configuration -> API Settings: API enabled, HTTP basic auth enabled;
// Endpoint.Authorization "Basic base64(user:password)") or OAuth2 with
// the client credentials grant (Endpoint.OAuth2; the token comes from
// {url}/oauth/v2/token and is asked for again on a 401). Mautic answers
// 401 for bad credentials, 403 for a user whose role may not edit
// contacts, 404 for a contact that is gone: dead letters, as every 4xx but
// 408 and 429.
type mauticFormat struct {
	root  string
	oauth *tokenSource // nil: Basic, in Endpoint.Authorization
}

func (mauticFormat) wants(e store.AuditEntry) bool {
	return e.After != nil || e.Action == store.AuditLift
}
func (mauticFormat) classify(a Attempt) Outcome { return Classify(a) }

// The reasons of a Do Not Contact entry in Mautic (its DoNotContact
// constants).
const (
	mauticUnsubscribed = 1
	mauticBounced      = 2
	mauticManual       = 3
)

// mauticComment starts the comments of every entry bouncesink makes, so
// that a lift removes only those.
const mauticComment = "bouncesink"

type mauticContact struct {
	ID     int `json:"id"`
	Fields struct {
		All struct {
			Email string `json:"email"`
		} `json:"all"`
	} `json:"fields"`
	DoNotContact []struct {
		Reason   int    `json:"reason"`
		Comments string `json:"comments"`
		Channel  string `json:"channel"`
	} `json:"doNotContact"`
}

// dnc reports whether the contact has a Do Not Contact entry on email,
// and whether bouncesink made one.
func (m mauticContact) dnc() (has, ours bool) {
	for _, d := range m.DoNotContact {
		if d.Channel == "email" {
			has = true
			ours = ours || strings.HasPrefix(d.Comments, mauticComment)
		}
	}
	return has, ours
}

func (f *mauticFormat) attempt(ctx context.Context, c *caller, e store.AuditEntry) Attempt {
	contacts, a := f.find(ctx, c, e.Address)
	if a.Status/100 != 2 || a.Err != nil || a.Problem != "" {
		return a
	}
	if len(contacts) == 0 {
		a.Done = "no contact with this address"
		return a
	}
	var done []string
	for _, ct := range contacts {
		has, ours := ct.dnc()
		var r call
		switch {
		case e.After != nil && !has:
			body, err := jsonBody(map[string]any{"reason": mauticReason(*e.After),
				"comments": fmt.Sprintf("%s: %s %s (audit %d)", mauticComment, e.After.Reason, e.After.Detail, e.Seq)})
			if err != nil {
				return Attempt{Problem: err.Error()}
			}
			r = call{step: "mark contact " + strconv.Itoa(ct.ID), method: http.MethodPost, body: body,
				url: f.root + "/api/contacts/" + strconv.Itoa(ct.ID) + "/dnc/email/add"}
		case e.After == nil && ours:
			r = call{step: "unmark contact " + strconv.Itoa(ct.ID), method: http.MethodPost, body: []byte("{}"),
				url: f.root + "/api/contacts/" + strconv.Itoa(ct.ID) + "/dnc/email/remove"}
		default:
			continue // marked already, or not by bouncesink
		}
		if a, _ = f.do(ctx, c, r); a.Err != nil || a.Status/100 != 2 {
			return a
		}
		done = append(done, r.step)
	}
	if len(done) == 0 {
		a.Done = "nothing to change"
	} else {
		a.Done = strings.Join(done, ", ")
	}
	return a
}

// find returns the contacts whose email is addr.
func (f *mauticFormat) find(ctx context.Context, c *caller, addr string) ([]mauticContact, Attempt) {
	q := url.Values{"search": {"email:" + addr}, "limit": {"100"}}
	a, body := f.do(ctx, c, call{step: "find the contact", method: http.MethodGet, url: f.root + "/api/contacts?" + q.Encode(), answer: true})
	if a.Err != nil || a.Problem != "" || a.Status/100 != 2 {
		return nil, a
	}
	// "contacts" is an object keyed by id, or [] when there are none.
	var res struct {
		Contacts json.RawMessage `json:"contacts"`
	}
	var byID map[string]mauticContact
	var list []mauticContact
	err := json.Unmarshal(body, &res)
	if err == nil {
		if err = json.Unmarshal(res.Contacts, &byID); err != nil {
			err = json.Unmarshal(res.Contacts, &list)
		}
	}
	if err != nil || res.Contacts == nil {
		a.Problem = "the answer is not a Mautic contact list"
		return nil, a
	}
	for _, ct := range byID {
		list = append(list, ct)
	}
	list = slices.DeleteFunc(list, func(ct mauticContact) bool { return !strings.EqualFold(ct.Fields.All.Email, addr) })
	slices.SortFunc(list, func(a, b mauticContact) int { return a.ID - b.ID })
	return list, a
}

// do sends r with the endpoint's credentials; with OAuth2, a 401 asks for
// a new token and sends r once more.
func (f *mauticFormat) do(ctx context.Context, c *caller, r call) (Attempt, []byte) {
	if f.oauth == nil {
		return c.do(ctx, r)
	}
	for fresh := false; ; fresh = true {
		authz, failed := f.oauth.authorization(ctx, c, fresh)
		if failed != nil {
			return *failed, nil
		}
		r.authorization = authz
		a, body := c.do(ctx, r)
		if a.Status != http.StatusUnauthorized || fresh {
			return a, body
		}
	}
}

// mauticReason is the Do Not Contact reason of a suppression.
func mauticReason(s store.Suppression) int {
	switch {
	case bounceType(s) == "complaint":
		return mauticUnsubscribed
	case s.Reason == store.ReasonManual:
		return mauticManual
	}
	return mauticBounced
}
