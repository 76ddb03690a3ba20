package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/fakeapps"
	"github.com/bouncesink/bouncesink/store"
)

// The contract tests run each format against a FAKE of the system it
// feeds (internal/fakeapps), built from that system's documented
// behaviour; the fakes log every exchange, so `go test -v -run Contract`
// shows what is really sent and answered.

const (
	aliceUUID    = "5e1b8a9c-6f3e-4c2a-9d7b-2f0e1c3a4b5d"
	campaignUUID = "0b7c6d5e-4f3a-4b2c-8d1e-9f8a7b6c5d4e"
)

// suppressed is the audit entry of a policy suppression.
func suppressed(addr, reason, detail string, v *store.Observation) store.AuditEntry {
	since := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return store.AuditEntry{Address: addr, Action: store.AuditSuppress, Actor: store.ActorPolicy, MessageID: 42, Verdict: v,
		After: &store.Suppression{Address: addr, Reason: reason, Detail: detail, Since: since}}
}

func lifted(addr string) store.AuditEntry {
	return store.AuditEntry{Address: addr, Action: store.AuditLift, Actor: "ops", Note: "DKIM key fixed",
		Before: &store.Suppression{Address: addr, Reason: "hard"}}
}

// dispatch runs a dispatcher for ep over f until the test ends.
func dispatch(t *testing.T, f *feed, ep Endpoint) *Dispatcher {
	t.Helper()
	d, _, _ := start(t, Options{Feed: f, Endpoints: []Endpoint{ep}, CursorPath: filepath.Join(t.TempDir(), "w.json")})
	return d
}

// caughtUp waits until the endpoint dealt with every entry of f.
func caughtUp(t *testing.T, d *Dispatcher, f *feed) EndpointStatus {
	t.Helper()
	f.mu.Lock()
	last := uint64(len(f.entries))
	f.mu.Unlock()
	var st []EndpointStatus
	eventually(t, "every entry dealt with", func() bool {
		st, _ = d.Status(context.Background())
		return st[0].Position == last
	})
	return st[0]
}

// deadLetters returns the endpoint's dead letters, oldest first.
func deadLetters(t *testing.T, d *Dispatcher) []DeadLetter {
	t.Helper()
	list, _, err := d.DeadLetters("", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// flaky stands in front of a fake: it answers the first n requests with
// fail (a status and body, or a dropped connection when status is 0) and
// passes the rest on.
func flaky(t *testing.T, target string, n int, status int, body string) string {
	t.Helper()
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n--
		failing := n >= 0
		mu.Unlock()
		switch {
		case !failing:
			proxy.ServeHTTP(w, r)
		case status == 0:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestListmonkContract(t *testing.T) {
	lm := fakeapps.NewListmonk(t.Logf, fakeapps.ListmonkUser{Name: "bouncesink", Token: "s3cr3t", Permissions: []string{"webhooks:post_bounce"}})
	t.Cleanup(lm.Close)
	lm.AddSubscriber(aliceUUID, "alice@example.org")
	lm.AddSubscriber("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "bob@example.org")
	lm.AddSubscriber("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "carol@example.org")
	lm.AddCampaign(campaignUUID, "March newsletter")

	f := newFeed()
	// The verdict's returned header named alice's UUID and the campaign
	// (in upper case, as some MTAs rewrite it); the report's address
	// differs from the subscriber's, as after a forward: the UUID wins.
	f.put(suppressed("alice.forwarded@example.net", "hard", "user_unknown", &store.Observation{Class: "hard", Reason: "user_unknown",
		Status: "5.1.1", SMTPCode: 550, Diagnostic: "550 5.1.1 <alice.forwarded@example.net>: Recipient address rejected",
		Decoder: "rfc3464", Rule: "status-5.1.1", ListmonkSubscriber: strings.ToUpper(aliceUUID), ListmonkCampaign: campaignUUID}))
	f.put(suppressed("bob@example.org", "soft", "mailbox_full", &store.Observation{Class: "soft", Reason: "mailbox_full",
		ListmonkSubscriber: "not-a-uuid"})) // a mangled header: the email is used
	f.put(lifted("bob@example.org")) // listmonk is not told
	f.put(suppressed("carol@example.org", "complaint", "abuse", nil))
	f.put(store.AuditEntry{Address: "carol@example.org", Action: store.AuditSuppress, Actor: "ops",
		After: &store.Suppression{Address: "carol@example.org", Reason: "import", Detail: "ses:complaint"}})
	f.put(suppressed("nobody@example.org", "manual", "asked", nil)) // listmonk does not know it: 200, nothing written

	d := dispatch(t, f, Endpoint{URL: lm.URL() + "/", Format: FormatListmonk, Authorization: "token bouncesink:s3cr3t"})
	st := caughtUp(t, d, f)
	if st.Delivered != 5 || st.DeadLetters != 0 || st.FailedAttempts != 0 {
		t.Errorf("status %+v, want 5 delivered (the lift sends nothing)", st)
	}
	b := lm.Bounces()
	if len(b) != 4 {
		t.Fatalf("listmonk recorded %d bounces, want 4: %+v", len(b), b)
	}
	want := []struct {
		sub           int
		typ, campaign string
	}{{1, "hard", campaignUUID}, {2, "soft", ""}, {3, "complaint", ""}, {3, "complaint", ""}}
	for i, w := range want {
		if b[i].SubscriberID != w.sub || b[i].Type != w.typ || b[i].CampaignUUID != w.campaign || b[i].Source != "bouncesink" {
			t.Errorf("bounce %d = %+v, want subscriber %d, type %s, campaign %q", i, b[i], w.sub, w.typ, w.campaign)
		}
	}
	if c := lm.Campaign(campaignUUID); c.Bounces != 1 {
		t.Errorf("the campaign counts %d bounces, want 1", c.Bounces)
	}
	var meta map[string]any
	if err := json.Unmarshal(b[0].Meta, &meta); err != nil || meta["reason"] != "user_unknown" || meta["status"] != "5.1.1" ||
		meta["bouncesink_seq"] != 1.0 || meta["rule"] != "status-5.1.1" || meta["suppression"] != "hard" {
		t.Errorf("meta = %s", b[0].Meta)
	}
	if !b[0].CreatedAt.Equal(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)) {
		t.Errorf("created_at %v, want the suppression's time", b[0].CreatedAt)
	}
}

// Every way listmonk says no for good is a dead letter, and the next
// entry goes through; every way that may pass is retried until it does.
func TestListmonkContractFailures(t *testing.T) {
	for _, tt := range []struct {
		name       string
		user       fakeapps.ListmonkUser
		authz      string
		processing bool
		webhooks   bool
		status     int // of the dead letter
	}{
		{"role without webhooks:post_bounce", fakeapps.ListmonkUser{Name: "bs", Token: "t", Permissions: []string{"subscribers:get_all"}}, "token bs:t", true, true, 403},
		{"wrong token", fakeapps.ListmonkUser{Name: "bs", Token: "t", Permissions: []string{"webhooks:post_bounce"}}, "token bs:nope", true, true, 403},
		{"bounce webhooks off", fakeapps.ListmonkUser{Name: "bs", Token: "t", Permissions: []string{"webhooks:post_bounce"}}, "token bs:t", true, false, 404},
		{"bounce processing off", fakeapps.ListmonkUser{Name: "bs", Token: "t", Permissions: []string{"webhooks:post_bounce"}}, "token bs:t", false, true, 503},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lm := fakeapps.NewListmonk(t.Logf, tt.user)
			t.Cleanup(lm.Close)
			lm.AddSubscriber(aliceUUID, "alice@example.org")
			lm.SetSettings(tt.processing, tt.webhooks)
			f := newFeed()
			f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
			d := dispatch(t, f, Endpoint{Name: "lm", URL: lm.URL(), Format: FormatListmonk, Authorization: tt.authz})
			caughtUp(t, d, f)
			dl := deadLetters(t, d)
			if len(dl) != 1 || dl[0].Status != tt.status || dl[0].Attempts != 1 {
				t.Fatalf("dead letters %+v, want one with %d after one attempt", dl, tt.status)
			}
			// Once listmonk is set right, the next entry is delivered.
			lm.SetSettings(true, true)
			if tt.authz == "token bs:t" && tt.status == 403 {
				return // the role is what is wrong: nothing passes
			}
			f.put(suppressed("alice@example.org", "complaint", "abuse", nil))
			if st := caughtUp(t, d, f); tt.authz == "token bs:t" && st.Delivered != 1 {
				t.Errorf("status %+v, want the next entry delivered", st)
			}
		})
	}

	// A 503 that is not listmonk's (a proxy while it restarts), a 500, a
	// 502, a 429, a 408 and a dropped connection are retried.
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"proxy 503", 503, "<html><body>503 Service Temporarily Unavailable</body></html>"},
		{"500", 500, "internal error"}, {"502", 502, "bad gateway"}, {"429", 429, "slow down"}, {"408", 408, ""},
		{"connection dropped", 0, ""},
	} {
		t.Run("retried "+tt.name, func(t *testing.T) {
			lm := fakeapps.NewListmonk(t.Logf, fakeapps.ListmonkUser{Name: "bs", Token: "t", Permissions: []string{"webhooks:post_bounce"}})
			t.Cleanup(lm.Close)
			lm.AddSubscriber(aliceUUID, "alice@example.org")
			f := newFeed()
			f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
			d := dispatch(t, f, Endpoint{URL: flaky(t, lm.URL(), 2, tt.status, tt.body), Format: FormatListmonk, Authorization: "token bs:t"})
			st := caughtUp(t, d, f)
			if st.FailedAttempts != 2 || st.Delivered != 1 || st.DeadLetters != 0 || len(lm.Bounces()) != 1 {
				t.Errorf("status %+v, bounces %d: want 2 failed attempts, then delivered and recorded", st, len(lm.Bounces()))
			}
		})
	}
}

// The old shape, kept as listmonk-blocklist: it works with subscribers:
// sql_query and subscribers:get_all; without sql_query it is a dead
// letter; without get_all listmonk says 200 and changes nothing, which
// this test shows as it is (README, "listmonk").
func TestListmonkBlocklistContract(t *testing.T) {
	for _, tt := range []struct {
		name        string
		perms       []string
		blocklisted bool
		dead        bool
	}{
		{"sql_query and get_all", []string{"subscribers:sql_query", "subscribers:get_all"}, true, false},
		{"no sql_query", []string{"subscribers:get_all"}, false, true},
		{"sql_query without get_all: 200 and nothing done", []string{"subscribers:sql_query"}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lm := fakeapps.NewListmonk(t.Logf, fakeapps.ListmonkUser{Name: "bs", Token: "t", Permissions: tt.perms})
			t.Cleanup(lm.Close)
			lm.AddSubscriber(aliceUUID, "o'hara@example.org")
			f := newFeed()
			f.put(suppressed("o'hara@example.org", "hard", "user_unknown", nil))
			d := dispatch(t, f, Endpoint{URL: lm.URL(), Format: FormatListmonkBlocklist, Authorization: "token bs:t"})
			st := caughtUp(t, d, f)
			if got := lm.Subscriber(1).Status == "blocklisted"; got != tt.blocklisted || (st.DeadLetters == 1) != tt.dead {
				t.Errorf("blocklisted %v, status %+v; want blocklisted %v, dead letter %v", got, st, tt.blocklisted, tt.dead)
			}
		})
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func TestMauticContract(t *testing.T) {
	m := fakeapps.NewMautic(t.Logf, fakeapps.MauticUser{Name: "bouncesink", Password: "pw", CanEdit: true})
	t.Cleanup(m.Close)
	alice1 := m.AddContact("alice@example.org")
	alice2 := m.AddContact("Alice@Example.org") // Mautic lets two contacts share an address
	bob := m.AddContact("bob@example.org", fakeapps.MauticDNC{Reason: 1, Comments: "User unsubscribed", Channel: "email"})
	carol := m.AddContact("carol@example.org")
	dave := m.AddContact("dave@example.org")
	alce := m.AddContact("alce@example.org") // what a LIKE on a_ce@example.org also finds

	f := newFeed()
	f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
	f.put(suppressed("bob@example.org", "soft", "mailbox_full", nil)) // unsubscribed already: left as it is
	f.put(suppressed("carol@example.org", "complaint", "abuse", nil))
	f.put(store.AuditEntry{Address: "dave@example.org", Action: store.AuditSuppress, Actor: "ops",
		After: &store.Suppression{Address: "dave@example.org", Reason: "manual", Detail: "asked by phone"}})
	f.put(suppressed("a_ce@example.org", "hard", "user_unknown", nil)) // no such contact
	f.put(suppressed("nobody@example.org", "hard", "user_unknown", nil))
	d := dispatch(t, f, Endpoint{URL: m.URL(), Format: FormatMautic, Authorization: basic("bouncesink", "pw")})
	if st := caughtUp(t, d, f); st.Delivered != 6 || st.DeadLetters != 0 {
		t.Errorf("status %+v, want 6 delivered", st)
	}
	for _, tt := range []struct {
		id     int
		reason int // 0: no entry
	}{{alice1, 2}, {alice2, 2}, {bob, 1}, {carol, 1}, {dave, 3}, {alce, 0}} {
		c := m.Contact(tt.id)
		switch {
		case tt.reason == 0 && len(c.DoNotContact) != 0:
			t.Errorf("contact %d (%s) marked %+v", tt.id, c.Email, c.DoNotContact)
		case tt.reason != 0 && (len(c.DoNotContact) != 1 || c.DoNotContact[0].Reason != tt.reason || c.DoNotContact[0].Channel != "email"):
			t.Errorf("contact %d (%s): %+v, want one email entry with reason %d", tt.id, c.Email, c.DoNotContact, tt.reason)
		}
	}
	if c := m.Contact(bob); c.DoNotContact[0].Comments != "User unsubscribed" {
		t.Errorf("bob's own unsubscription was replaced: %+v", c.DoNotContact)
	}

	// A lift removes bouncesink's entries, and only those.
	f.put(lifted("alice@example.org"))
	f.put(lifted("bob@example.org"))
	caughtUp(t, d, f)
	if a, b := m.Contact(alice1), m.Contact(bob); len(a.DoNotContact) != 0 || len(m.Contact(alice2).DoNotContact) != 0 || len(b.DoNotContact) != 1 {
		t.Errorf("after the lifts: alice %+v, bob %+v; want alice free and bob still unsubscribed", a.DoNotContact, b.DoNotContact)
	}
}

func TestMauticContractFailures(t *testing.T) {
	for _, tt := range []struct {
		name   string
		authz  string
		setup  func(*fakeapps.Mautic)
		status int
	}{
		{"wrong password", basic("bouncesink", "nope"), nil, 401},
		{"role may not edit contacts", basic("viewer", "pw"), nil, 403},
		{"API off", basic("bouncesink", "pw"), func(m *fakeapps.Mautic) { m.SetSettings(false, true) }, 403},
		{"basic auth off", basic("bouncesink", "pw"), func(m *fakeapps.Mautic) { m.SetSettings(true, false) }, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := fakeapps.NewMautic(t.Logf, fakeapps.MauticUser{Name: "bouncesink", Password: "pw", CanEdit: true},
				fakeapps.MauticUser{Name: "viewer", Password: "pw"})
			t.Cleanup(m.Close)
			m.AddContact("alice@example.org")
			if tt.setup != nil {
				tt.setup(m)
			}
			f := newFeed()
			f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
			d := dispatch(t, f, Endpoint{URL: m.URL(), Format: FormatMautic, Authorization: tt.authz})
			caughtUp(t, d, f)
			if dl := deadLetters(t, d); len(dl) != 1 || dl[0].Status != tt.status {
				t.Errorf("dead letters %+v, want one with %d", dl, tt.status)
			}
		})
	}
	t.Run("retried 500", func(t *testing.T) {
		m := fakeapps.NewMautic(t.Logf, fakeapps.MauticUser{Name: "bouncesink", Password: "pw", CanEdit: true})
		t.Cleanup(m.Close)
		id := m.AddContact("alice@example.org")
		f := newFeed()
		f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
		d := dispatch(t, f, Endpoint{URL: flaky(t, m.URL(), 2, 500, "oops"), Format: FormatMautic, Authorization: basic("bouncesink", "pw")})
		if st := caughtUp(t, d, f); st.FailedAttempts != 2 || st.Delivered != 1 || len(m.Contact(id).DoNotContact) != 1 {
			t.Errorf("status %+v, contact %+v", st, m.Contact(id))
		}
	})
}

// OAuth2's client credentials: one token serves until Mautic refuses it,
// then a new one is asked for and the request sent again.
func TestMauticContractOAuth2(t *testing.T) {
	m := fakeapps.NewMautic(t.Logf)
	t.Cleanup(m.Close)
	m.AddClient("client-1", "client-secret")
	a, b := m.AddContact("alice@example.org"), m.AddContact("bob@example.org")
	f := newFeed()
	f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
	f.put(suppressed("bob@example.org", "hard", "user_unknown", nil))
	d := dispatch(t, f, Endpoint{URL: m.URL(), Format: FormatMautic, OAuth2: &OAuth2{ClientID: "client-1", ClientSecret: "client-secret"}})
	caughtUp(t, d, f)
	if n := m.TokensIssued(); n != 1 || len(m.Contact(a).DoNotContact) != 1 || len(m.Contact(b).DoNotContact) != 1 {
		t.Errorf("%d tokens for two entries, contacts %+v %+v", n, m.Contact(a), m.Contact(b))
	}
	m.ExpireTokens()
	f.put(lifted("alice@example.org"))
	st := caughtUp(t, d, f)
	if n := m.TokensIssued(); n != 2 || len(m.Contact(a).DoNotContact) != 0 || st.DeadLetters != 0 {
		t.Errorf("after the token expired: %d tokens, alice %+v, status %+v", n, m.Contact(a), st)
	}

	// A wrong secret: the token endpoint's 400 is a dead letter.
	f2 := newFeed()
	f2.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
	d2 := dispatch(t, f2, Endpoint{URL: m.URL(), Format: FormatMautic, OAuth2: &OAuth2{ClientID: "client-1", ClientSecret: "wrong"}})
	caughtUp(t, d2, f2)
	if dl := deadLetters(t, d2); len(dl) != 1 || dl[0].Status != 400 || !strings.Contains(dl[0].Error, "OAuth2") {
		t.Errorf("dead letters %+v, want the token endpoint's 400", dl)
	}
}

func TestKeilaContract(t *testing.T) {
	k := fakeapps.NewKeila(t.Logf, "key-1")
	t.Cleanup(k.Close)
	k.AddContact("alice@example.org", "active")
	k.AddContact("bob+news@example.org", "unsubscribed")
	f := newFeed()
	f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
	f.put(suppressed("bob+news@example.org", "complaint", "abuse", nil)) // unsubscribed already: left so
	d := dispatch(t, f, Endpoint{URL: k.URL(), Format: FormatKeila, Authorization: "Bearer key-1"})
	caughtUp(t, d, f)
	if a, b := k.Status("alice@example.org"), k.Status("bob+news@example.org"); a != "unreachable" || b != "unsubscribed" {
		t.Errorf("alice %s, bob %s; want unreachable, unsubscribed", a, b)
	}
	f.put(lifted("alice@example.org"))
	f.put(lifted("bob+news@example.org"))
	if st := caughtUp(t, d, f); st.Delivered != 4 || st.DeadLetters != 0 {
		t.Errorf("status %+v", st)
	}
	if a, b := k.Status("alice@example.org"), k.Status("bob+news@example.org"); a != "active" || b != "unsubscribed" {
		t.Errorf("after the lifts alice %s, bob %s; want active, unsubscribed", a, b)
	}
}

func TestKeilaContractFailures(t *testing.T) {
	for _, tt := range []struct {
		name, key, addr string
		status          int
	}{
		{"not a contact", "key-1", "nobody@example.org", 404},
		{"wrong key", "key-2", "alice@example.org", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := fakeapps.NewKeila(t.Logf, "key-1")
			t.Cleanup(k.Close)
			k.AddContact("alice@example.org", "active")
			f := newFeed()
			f.put(suppressed(tt.addr, "hard", "user_unknown", nil))
			f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
			d := dispatch(t, f, Endpoint{URL: k.URL(), Format: FormatKeila, Authorization: "Bearer " + tt.key})
			caughtUp(t, d, f)
			dl := deadLetters(t, d)
			if len(dl) == 0 || dl[0].Status != tt.status || dl[0].Seq != 1 {
				t.Errorf("dead letters %+v, want entry 1 with %d", dl, tt.status)
			}
		})
	}
	t.Run("retried 502", func(t *testing.T) {
		k := fakeapps.NewKeila(t.Logf, "key-1")
		t.Cleanup(k.Close)
		k.AddContact("alice@example.org", "active")
		f := newFeed()
		f.put(suppressed("alice@example.org", "hard", "user_unknown", nil))
		d := dispatch(t, f, Endpoint{URL: flaky(t, k.URL(), 1, 502, "bad gateway"), Format: FormatKeila, Authorization: "Bearer key-1"})
		if st := caughtUp(t, d, f); st.FailedAttempts != 1 || k.Status("alice@example.org") != "unreachable" {
			t.Errorf("status %+v, alice %s", st, k.Status("alice@example.org"))
		}
	})
}
