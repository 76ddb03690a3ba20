package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/fakeapps"
)

// The whole way of listmonk's ids: a bounce whose returned header carries
// X-Listmonk-Subscriber and X-Listmonk-Campaign, received over SMTP,
// classified, recorded and suppressed, reaches the (FAKE) listmonk's
// bounce API naming that subscriber and campaign, and the campaign counts
// the bounce.
func TestListmonkIDsReachListmonk(t *testing.T) {
	const subscriber, campaign = "5e1b8a9c-6f3e-4c2a-9d7b-2f0e1c3a4b5d", "0b7c6d5e-4f3a-4b2c-8d1e-9f8a7b6c5d4e"
	lm := fakeapps.NewListmonk(t.Logf, fakeapps.ListmonkUser{Name: "bouncesink", Token: "tok", Permissions: []string{"webhooks:post_bounce"}})
	defer lm.Close()
	lm.AddSubscriber(subscriber, "alice@example.org")
	lm.AddCampaign(campaign, "March newsletter")
	cfg := testConfig(t)
	cfg.Webhooks = []WebhookConfig{{Name: "listmonk", URL: lm.URL(), Format: "listmonk", Authorization: "token bouncesink:tok"}}
	ts := startServer(t, cfg, runOptions{})

	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "classify", "listmonk-postfix-dsn.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the policy wants two hard bounces; each a message of its own
		bounce(t, ts, returnPath("alice@example.org"), bytes.ReplaceAll(raw, []byte("B7A1C20F12"), []byte("B7A1C20F1"+strconv.Itoa(i))))
	}
	var got []fakeapps.ListmonkBounce
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = lm.Bounces()
	}
	if len(got) != 1 || got[0].SubscriberID != 1 || got[0].CampaignUUID != campaign || got[0].Type != "hard" {
		t.Fatalf("listmonk recorded %+v, want one hard bounce of subscriber 1 in the campaign", got)
	}
	if c := lm.Campaign(campaign); c.Bounces != 1 {
		t.Errorf("the campaign counts %d bounces, want 1", c.Bounces)
	}
	var meta map[string]any
	if json.Unmarshal(got[0].Meta, &meta); meta["reason"] != "user_unknown" || meta["decoder"] != "rfc3464" {
		t.Errorf("meta %s", got[0].Meta)
	}
	// The audit entry keeps the ids with the verdict.
	code, body := doHTTP(t, "GET", ts.http+"/v1/audit?address=alice@example.org", "", nil)
	if code != 200 || !bytes.Contains([]byte(body), []byte(`"listmonk_subscriber":"`+subscriber+`"`)) {
		t.Errorf("GET /v1/audit = %d %s, want the verdict with the subscriber's UUID", code, body)
	}
}
