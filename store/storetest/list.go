package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Paging through the list while suppressions arrive and go never repeats
// or skips an address that was suppressed the whole time.
func testListSuppressionsPagesWhileChanging(t *testing.T, h Harness) {
	clock := day(0)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	var want []string // newest first
	for i := range 50 {
		clock = day(float64(i) / 10)
		addr := fmt.Sprintf("user%02d@example.com", i)
		if _, err := suppress(db, addr, "test", ""); err != nil {
			t.Fatal(err)
		}
		want = append([]string{addr}, want...)
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		list, next, err := db.ListSuppressions(ctx, store.SuppressionFilter{}, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			got = append(got, s.Address)
		}
		// Between pages: a new suppression (newest of all), and a lift of
		// one not yet listed.
		clock = day(10 + float64(page))
		if _, err := suppress(db, fmt.Sprintf("new%02d@example.com", page), "test", ""); err != nil {
			t.Fatal(err)
		}
		if page == 2 {
			if err := lift(db, "user05@example.com", ""); err != nil {
				t.Fatal(err)
			}
			want = slices.DeleteFunc(want, func(a string) bool { return a == "user05@example.com" })
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged list:\n%v\nwant\n%v", got, want)
	}
}

func testListSuppressionsFilters(t *testing.T, h Harness) {
	clock := day(30)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	record(t, db, bounce("hard1@a.example", "hard", day(1)))
	record(t, db, bounce("hard1@a.example", "hard", day(2)))
	record(t, db, bounce("hard1@a.example", "block", day(3))) // last verdict: a block
	record(t, db, bounce("spam@b.example", "complaint", day(4)))
	if _, err := suppress(db, "Manual@A.example", "asked", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.SuppressionFilter
		want []string
	}{
		{"all", store.SuppressionFilter{}, []string{"manual@a.example", "spam@b.example", "hard1@a.example"}},
		{"reason", store.SuppressionFilter{Reason: "complaint"}, []string{"spam@b.example"}},
		{"class", store.SuppressionFilter{Class: "block"}, []string{"hard1@a.example"}},
		{"domain", store.SuppressionFilter{Domain: "A.example"}, []string{"manual@a.example", "hard1@a.example"}},
		{"since", store.SuppressionFilter{Since: day(3)}, []string{"manual@a.example", "spam@b.example"}},
		{"until", store.SuppressionFilter{Until: day(2)}, []string{"hard1@a.example"}},
		{"since and until", store.SuppressionFilter{Since: day(3), Until: day(5)}, []string{"spam@b.example"}},
		{"search", store.SuppressionFilter{Search: "HARD"}, []string{"hard1@a.example"}},
		{"nothing", store.SuppressionFilter{Reason: "soft"}, nil},
	}
	for _, tt := range tests {
		list, next, err := db.ListSuppressions(ctx, tt.f, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.Address)
		}
		if !slices.Equal(got, tt.want) || next != "" {
			t.Errorf("%s: %v next %q, want %v", tt.name, got, next, tt.want)
		}
	}
	list, _, _ := db.ListSuppressions(ctx, store.SuppressionFilter{Class: "block"}, "", 0)
	if len(list) == 1 && (list[0].LastClass != "block" || list[0].Reason != "hard" || !list[0].LastBounce.Equal(day(3))) {
		t.Errorf("listed %+v, want the suppression with its last verdict", list[0])
	}
	if _, _, err := db.ListSuppressions(ctx, store.SuppressionFilter{}, "!!", 0); err == nil {
		t.Error("a bad cursor was accepted")
	}
}

func testAuditTrail(t *testing.T, h Harness) {
	clock := day(10)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	changed := db.AuditChanged()
	id1 := record(t, db, bounce("ann@example.com", "hard", day(9)))
	if _, _, err := db.Recipient(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
		t.Fatal("AuditChanged fired without a change")
	default:
	}
	id2 := record(t, db, bounce("ann@example.com", "hard", day(10)))
	// An engine may apply a message after Record returns (bbolt's
	// journal): the change is signalled by the time a read sees it.
	if _, _, err := db.Recipient(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("AuditChanged did not fire on a policy suppression")
	}
	clock = day(11)
	if _, err := db.LiftAs(ctx, "alice-token", "ann@example.com", "wrong bounce"); err != nil {
		t.Fatal(err)
	}
	if _, added, err := db.SuppressAs(ctx, "bob-token", store.ManualSuppression{Address: "ann@example.com", Detail: "asked", Note: "phone"}); err != nil || !added {
		t.Fatal(added, err)
	}
	// Suppressing again changes nothing and is not audited.
	if _, added, err := db.SuppressAs(ctx, "bob-token", store.ManualSuppression{Address: "ann@example.com"}); err != nil || added {
		t.Fatal(added, err)
	}

	all, err := db.AuditAfter(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("audit %+v, want 3 entries", all)
	}
	p, l, m := all[0], all[1], all[2]
	if p.Seq != 1 || p.Actor != store.ActorPolicy || p.Action != store.AuditSuppress || p.Before != nil || p.After == nil ||
		p.After.Reason != "hard" || p.MessageID != id2 || p.Verdict == nil || p.Verdict.Class != "hard" || !p.Time.Equal(day(10)) {
		t.Errorf("policy entry %+v", p)
	}
	_ = id1
	if l.Actor != "alice-token" || l.Action != store.AuditLift || l.Before == nil || l.Before.Reason != "hard" || l.After != nil || l.Note != "wrong bounce" {
		t.Errorf("lift entry %+v", l)
	}
	if m.Actor != "bob-token" || m.Action != store.AuditSuppress || m.After == nil || m.After.Reason != "manual" || m.After.Detail != "asked" || m.Note != "phone" {
		t.Errorf("manual entry %+v", m)
	}
	if after, _ := db.AuditAfter(ctx, 2, 0); len(after) != 1 || after[0].Seq != 3 {
		t.Errorf("AuditAfter(2) = %+v", after)
	}

	newest, next, err := db.Audit(ctx, store.AuditFilter{}, 0, 2)
	if err != nil || len(newest) != 2 || newest[0].Seq != 3 || next != 2 {
		t.Fatalf("Audit page 1 = %+v next %d, %v", newest, next, err)
	}
	rest, next, err := db.Audit(ctx, store.AuditFilter{}, next, 2)
	if err != nil || len(rest) != 1 || rest[0].Seq != 1 || next != 0 {
		t.Errorf("Audit page 2 = %+v next %d, %v", rest, next, err)
	}
	byActor, _, _ := db.Audit(ctx, store.AuditFilter{Actor: "alice-token"}, 0, 0)
	bySince, _, _ := db.Audit(ctx, store.AuditFilter{Since: day(11)}, 0, 0)
	byAddr, _, _ := db.Audit(ctx, store.AuditFilter{Address: "ANN@example.com"}, 0, 0)
	other, _, _ := db.Audit(ctx, store.AuditFilter{Address: "zed@example.com"}, 0, 0)
	if len(byActor) != 1 || len(bySince) != 2 || len(byAddr) != 3 || byAddr[0].Seq != 3 || len(other) != 0 {
		t.Errorf("filtered: actor %d, since %d, address %d, other %d", len(byActor), len(bySince), len(byAddr), len(other))
	}
}

func testActivity(t *testing.T, h Harness) {
	now := day(40).Add(30 * time.Minute)
	db := open(t, h, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	record(t, db, bounce("a@blocky.example", "block", now.Add(-time.Hour)))
	record(t, db, bounce("b@blocky.example", "block", now.Add(-2*time.Hour)))
	record(t, db, bounce("c@other.example", "block", now.Add(-3*time.Hour)))
	record(t, db, bounce("d@other.example", "hard", now.Add(-25*time.Hour)))   // outside 24h
	record(t, db, bounce("e@other.example", "soft", now.Add(-5*24*time.Hour))) // within 7d
	record(t, db, bounce("f@other.example", "soft", now.Add(-20*24*time.Hour)))
	record(t, db, bounce("g@other.example", "soft", now.Add(-50*24*time.Hour))) // outside all

	act, err := db.Activity(ctx, store.ActivityOptions{Days: 7, Top: 1})
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]int{}
	for _, w := range act.Windows {
		totals[w.Window] = w.Total
	}
	if totals["24h"] != 3 || totals["7d"] != 5 || totals["30d"] != 6 {
		t.Errorf("window totals %v, want 24h 3, 7d 5, 30d 6", totals)
	}
	w := act.Windows[0]
	if w.ByReason["block"]["block-reason"] != 3 || w.Domains != 2 || len(w.TopDomains) != 1 || w.TopDomains[0].Domain != "blocky.example" {
		t.Errorf("24h window %+v", w)
	}
	if len(act.TopBlockDomains) != 1 || act.TopBlockDomains[0].Domain != "blocky.example" || act.TopBlockDomains[0].ByClass["block"] != 2 {
		t.Errorf("top block domains %+v", act.TopBlockDomains)
	}
	if len(act.Daily) != 7 || act.Daily[6].Day != "2026-04-10" || act.Daily[6].ByClass["block"] != 3 ||
		act.Daily[5].ByClass["hard"] != 1 || act.Daily[1].ByClass["soft"] != 1 {
		t.Errorf("daily %+v", act.Daily)
	}
}
