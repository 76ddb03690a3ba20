package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// POST /v1/suppressions/lift: a dry run counts and samples, the lift takes
// exactly those off the list with one audit entry each naming the token
// and the note; bad requests and read tokens are refused.
func TestBulkLift(t *testing.T) {
	s := newServer(t, Options{})
	ctx := context.Background()
	// Two addresses suppressed by a rule reading a blocklisted IP as bounces,
	// one by another, and one import.
	for _, a := range []string{"ann@a.example", "bob@b.example"} {
		for d := range 2 {
			_, err := s.db.Record(ctx, store.Message{Received: t0.Add(time.Duration(d) * time.Hour), Raw: []byte("x"),
				Observations: []store.Observation{{Recipient: a, Class: "hard", Reason: "user_unknown", Decoder: "postfix", Rule: "text-blocked-ip"}}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	s.record(t, "cat@a.example", "hard", t0)
	s.record(t, "cat@a.example", "hard", t0.Add(time.Hour))
	s.clock.Set(t0.Add(24 * time.Hour))

	// A read token may not; an empty filter or no note is refused.
	for _, tt := range []struct {
		token, body string
		want        int
		msg         string
	}{
		{robotToken, `{"filter": {"rule": "text-blocked-ip"}, "note": "x"}`, 403, ""},
		{aliceToken, `{"filter": {}, "note": "x"}`, 400, "set at least one field"},
		{aliceToken, `{"filter": {"rule": "text-blocked-ip"}}`, 400, "note"},
		{aliceToken, `{"filter": {"source": "robot"}, "note": "x"}`, 400, "source"},
		{aliceToken, `{"filter": {"since": "yesterday"}, "note": "x"}`, 400, "since"},
		{aliceToken, `{"filter": {"rule": "x"}, "note": "x", "extra": 1}`, 400, "unknown field"},
	} {
		status, body := s.call(t, "POST", "/v1/suppressions/lift", tt.token, "application/json", strings.NewReader(tt.body))
		if status != tt.want || !strings.Contains(string(body), tt.msg) {
			t.Errorf("%s = %d %s, want %d with %q", tt.body, status, body, tt.want, tt.msg)
		}
	}

	var dry BulkLiftResponse
	s.json(t, "POST", "/v1/suppressions/lift", aliceToken, `{"filter": {"rule": "text-blocked-ip", "source": "policy"}, "note": "IP was blocklisted", "dry_run": true}`, 200, &dry)
	if !dry.DryRun || dry.Matched != 2 || dry.Lifted != 0 || len(dry.Sample) != 2 || dry.Sample[0].Address != "ann@a.example" ||
		dry.Sample[0].Rule != "text-blocked-ip" || dry.Sample[0].Decoder != "postfix" {
		t.Fatalf("dry run = %+v", dry)
	}
	if _, err := s.db.Suppression(ctx, "ann@a.example"); err != nil {
		t.Fatalf("the dry run lifted ann: %v", err)
	}
	var res BulkLiftResponse
	s.json(t, "POST", "/v1/suppressions/lift", aliceToken, `{"filter": {"rule": "text-blocked-ip"}, "note": "IP was blocklisted"}`, 200, &res)
	if res.DryRun || res.Matched != 2 || res.Lifted != 2 {
		t.Fatalf("lift = %+v", res)
	}
	for addr, want := range map[string]bool{"ann@a.example": false, "bob@b.example": false, "cat@a.example": true} {
		if _, err := s.db.Suppression(ctx, addr); (err == nil) != want {
			t.Errorf("%s suppressed: %v, want %v", addr, err == nil, want)
		}
	}
	entries, _, err := s.db.Audit(ctx, store.AuditFilter{Actor: "alice"}, 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit by alice: %+v, %v", entries, err)
	}
	for _, e := range entries {
		if e.Action != store.AuditLift || e.Note != "IP was blocklisted" || e.Before == nil || e.Before.Rule != "text-blocked-ip" {
			t.Errorf("audit entry %+v", e)
		}
	}
}
