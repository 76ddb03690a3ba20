package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// verdictBy is a bounce of addr decided by decoder and rule.
func verdictBy(addr, class, decoder, rule string, at time.Time) store.Message {
	m := bounce(addr, class, at)
	m.Observations[0].Decoder, m.Observations[0].Rule = decoder, rule
	return m
}

// liftSet fills db with suppressions of every source: the policy's (two
// decoders), by hand and by an import; all on day 1 to 4, the clock at
// day 30.
func liftSet(t *testing.T, db store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, a := range []string{"ann@a.example", "bob@a.example", "cat@b.example"} {
		record(t, db, verdictBy(a, "hard", "postfix", "text-blocked-ip", day(1)))
		record(t, db, verdictBy(a, "hard", "postfix", "text-blocked-ip", day(2)))
	}
	record(t, db, verdictBy("dan@a.example", "hard", "rfc3464", "status-5.1.1", day(2)))
	record(t, db, verdictBy("dan@a.example", "hard", "rfc3464", "status-5.1.1", day(3)))
	record(t, db, verdictBy("eve@b.example", "complaint", "arf", "feedback-abuse", day(3)))
	if _, err := suppress(db, "man@a.example", "asked", "by phone"); err != nil {
		t.Fatal(err)
	}
	_, err := db.SuppressMany(ctx, "importer", []store.ManualSuppression{
		{Address: "imp1@c.example", Reason: "import", Detail: "ses:bounce", Since: day(4)},
		{Address: "imp2@c.example", Reason: "import", Detail: "ses:complaint", Since: day(4)},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sampleAddrs(list []store.Suppression) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Address)
	}
	return out
}

// testLiftMatching: a dry run counts and samples what a filter selects and
// changes nothing; the lift then takes exactly those off the list, each
// with its own audit entry naming the actor and the note, an admin event
// in its history and its counters reset; what the filter does not select
// stays.
func testLiftMatching(t *testing.T, h Harness) {
	clock := day(30)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	liftSet(t, db)
	// The policy keeps the decoder and rule that decided.
	if s, err := db.Suppression(ctx, "ann@a.example"); err != nil || s.Decoder != "postfix" || s.Rule != "text-blocked-ip" || s.Reason != "hard" {
		t.Fatalf("Suppression = %+v, %v; want hard by postfix text-blocked-ip", s, err)
	}
	if s, _ := db.Suppression(ctx, "man@a.example"); s.Decoder != "" || s.Rule != "" {
		t.Errorf("a manual suppression has decoder %q rule %q", s.Decoder, s.Rule)
	}

	tests := []struct {
		name string
		f    store.LiftFilter
		want []string
	}{
		{"rule", store.LiftFilter{Rule: "text-blocked-ip"}, []string{"ann@a.example", "bob@a.example", "cat@b.example"}},
		{"decoder and domain", store.LiftFilter{Decoder: "postfix", SuppressionFilter: store.SuppressionFilter{Domain: "a.example"}}, []string{"ann@a.example", "bob@a.example"}},
		{"source policy", store.LiftFilter{Source: store.SourcePolicy}, []string{"ann@a.example", "bob@a.example", "cat@b.example", "dan@a.example", "eve@b.example"}},
		{"source manual", store.LiftFilter{Source: store.SourceManual}, []string{"man@a.example"}},
		{"source import", store.LiftFilter{Source: store.SourceImport}, []string{"imp1@c.example", "imp2@c.example"}},
		{"detail", store.LiftFilter{Detail: "ses:complaint"}, []string{"imp2@c.example"}},
		{"class of the suppression (its reason)", store.LiftFilter{SuppressionFilter: store.SuppressionFilter{Reason: "complaint"}}, []string{"eve@b.example"}},
		{"class of the last verdict", store.LiftFilter{SuppressionFilter: store.SuppressionFilter{Class: "complaint"}}, []string{"eve@b.example"}},
		{"time range", store.LiftFilter{SuppressionFilter: store.SuppressionFilter{Since: day(3), Until: day(4)}}, []string{"dan@a.example", "eve@b.example", "imp1@c.example", "imp2@c.example"}},
		{"nothing", store.LiftFilter{Rule: "no-such-rule"}, nil},
	}
	for _, tt := range tests {
		res, err := db.LiftMatching(ctx, "ops", tt.f, "dry run", true)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := sampleAddrs(res.Sample); res.Matched != len(tt.want) || res.Lifted != 0 || !slices.Equal(got, tt.want) {
			t.Errorf("%s: dry run matched %d, lifted %d, sample %v; want %d, 0, %v", tt.name, res.Matched, res.Lifted, got, len(tt.want), tt.want)
		}
	}
	if n := len(allSuppressions(t, db)); n != 8 {
		t.Fatalf("after dry runs %d suppressions, want all 8", n)
	}
	for _, f := range []store.LiftFilter{{}, {SuppressionFilter: store.SuppressionFilter{}}} {
		if _, err := db.LiftMatching(ctx, "ops", f, "everything", false); !errors.Is(err, store.ErrEmptyFilter) {
			t.Errorf("an empty filter: %v, want ErrEmptyFilter", err)
		}
	}
	if _, err := db.LiftMatching(ctx, "ops", store.LiftFilter{Rule: "text-blocked-ip"}, " ", false); err == nil {
		t.Error("a lift without a note was accepted")
	}

	seq := lastSeq(t, db)
	res, err := db.LiftMatching(ctx, "ops", store.LiftFilter{Rule: "text-blocked-ip"}, "the sending IP was blocklisted, not the addresses", false)
	if err != nil || res.Matched != 3 || res.Lifted != 3 || !res.Cutoff.Equal(clock) {
		t.Fatalf("LiftMatching = %+v, %v; want 3 matched and lifted, cutoff at the clock", res, err)
	}
	wantList(t, db, map[string]string{"dan@a.example": "hard", "eve@b.example": "complaint", "man@a.example": "manual",
		"imp1@c.example": "import", "imp2@c.example": "import"})
	entries, err := db.AuditAfter(ctx, seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	var lifted []string
	for _, e := range entries {
		if e.Action != store.AuditLift || e.Actor != "ops" || e.Note != "the sending IP was blocklisted, not the addresses" ||
			e.Before == nil || e.Before.Rule != "text-blocked-ip" || e.After != nil {
			t.Errorf("audit entry %+v", e)
		}
		lifted = append(lifted, e.Address)
	}
	if want := []string{"ann@a.example", "bob@a.example", "cat@b.example"}; !slices.Equal(lifted, want) {
		t.Errorf("audit entries for %v, want one each for %v", lifted, want)
	}
	// Each address's counters are reset as by a Lift: one more hard bounce
	// does not suppress it again.
	r, events, err := db.Recipient(ctx, "ann@a.example")
	if err != nil || len(events) == 0 {
		t.Fatalf("ann's record: %v", err)
	}
	if last := events[len(events)-1]; len(r.HardTimes) != 0 || last.Class != store.ClassAdmin || last.Reason != store.AdminLift ||
		last.Detail != "the sending IP was blocklisted, not the addresses" {
		t.Errorf("ann after the lift: %+v, latest event %+v", r, last)
	}
	record(t, db, verdictBy("ann@a.example", "hard", "postfix", "text-blocked-ip", day(29)))
	if _, err := db.Suppression(ctx, "ann@a.example"); !notFound(err) {
		t.Errorf("one hard bounce after the lift suppressed ann again (%v)", err)
	}
	// Again: nothing left to lift.
	if res, err := db.LiftMatching(ctx, "ops", store.LiftFilter{Rule: "text-blocked-ip"}, "again", false); err != nil || res.Matched != 0 || res.Lifted != 0 {
		t.Errorf("a second lift = %+v, %v; want nothing", res, err)
	}
}

// testLiftMatchingCutoff: a suppression made after the lift began is not
// lifted, whatever the filter's Until says; a lift of more than LiftChunk
// addresses lifts them all.
func testLiftMatchingCutoff(t *testing.T, h Harness) {
	clock := day(30)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	var list []store.ManualSuppression
	n := store.LiftChunk + 7
	for i := range n {
		list = append(list, store.ManualSuppression{Address: fmt.Sprintf("u%04d@bad-import.example", i), Reason: "import", Detail: "csv:bounce", Since: day(29)})
	}
	if _, err := db.SuppressMany(ctx, "importer", list); err != nil {
		t.Fatal(err)
	}
	// Since later than the clock: the store makes it "now", the cutoff.
	later := store.ManualSuppression{Address: "late@bad-import.example", Reason: "import", Detail: "csv:bounce"}
	f := store.LiftFilter{Source: store.SourceImport, SuppressionFilter: store.SuppressionFilter{Until: day(40)}}
	res, err := db.LiftMatching(ctx, "ops", f, "the import was the wrong file", true)
	if err != nil || res.Matched != n || len(res.Sample) != store.LiftSampleSize || res.Sample[0].Address != "u0000@bad-import.example" {
		t.Fatalf("dry run = matched %d, sample of %d, %v; want %d and a sample of %d from u0000", res.Matched, len(res.Sample), err, n, store.LiftSampleSize)
	}
	clock = day(31)
	if _, err := db.SuppressMany(ctx, "importer", []store.ManualSuppression{later}); err != nil {
		t.Fatal(err)
	}
	// A lift that began before late was suppressed leaves it, whatever
	// the filter's Until.
	clock = day(30.5)
	res, err = db.LiftMatching(ctx, "ops", f, "the import was the wrong file", false)
	if err != nil || res.Lifted != n || res.Matched != n {
		t.Fatalf("LiftMatching = %+v (without its sample), %v; want all %d lifted", store.LiftResult{Matched: res.Matched, Lifted: res.Lifted, Cutoff: res.Cutoff}, err, n)
	}
	wantList(t, db, map[string]string{"late@bad-import.example": "import"})
}

// wantList checks the whole suppression list: address -> reason.
func wantList(t *testing.T, db store.Store, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, s := range allSuppressions(t, db) {
		got[s.Address] = s.Reason
	}
	if !maps.Equal(got, want) {
		t.Errorf("suppressed %v, want %v", got, want)
	}
}

// lastSeq is the number of the latest audit entry.
func lastSeq(t *testing.T, db store.Store) uint64 {
	t.Helper()
	var seq uint64
	for {
		page, err := db.AuditAfter(context.Background(), seq, store.MaxAuditPage)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return seq
		}
		seq = page[len(page)-1].Seq
	}
}

// testReturnedIDsKept: the listmonk ids of a verdict stay with it in the
// history and in the audit entry of the suppression it made.
func testReturnedIDsKept(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	for i := range 2 {
		m := bounce("lm@example.org", "hard", day(float64(i)))
		m.Observations[0].ListmonkSubscriber = "5e1b8a9c-6f3e-4c2a-9d7b-2f0e1c3a4b5d"
		m.Observations[0].ListmonkCampaign = "0b7c6d5e-4f3a-4b2c-8d1e-9f8a7b6c5d4e"
		record(t, db, m)
	}
	_, events, err := db.Recipient(ctx, "lm@example.org")
	if err != nil || len(events) != 2 || events[0].ListmonkSubscriber != "5e1b8a9c-6f3e-4c2a-9d7b-2f0e1c3a4b5d" ||
		events[0].ListmonkCampaign != "0b7c6d5e-4f3a-4b2c-8d1e-9f8a7b6c5d4e" {
		t.Fatalf("history %+v, %v; want the listmonk ids kept", events, err)
	}
	entries, err := db.AuditAfter(ctx, 0, 10)
	if err != nil || len(entries) != 1 || entries[0].Verdict == nil || entries[0].Verdict.ListmonkSubscriber != "5e1b8a9c-6f3e-4c2a-9d7b-2f0e1c3a4b5d" {
		t.Errorf("audit %+v, %v; want the suppression's verdict with the listmonk ids", entries, err)
	}
	msgs := allMessages(t, db)
	if len(msgs) != 2 || msgs[1].Observations[0].ListmonkCampaign != "0b7c6d5e-4f3a-4b2c-8d1e-9f8a7b6c5d4e" {
		t.Errorf("messages %+v; want their observations with the listmonk ids", msgs)
	}
}
