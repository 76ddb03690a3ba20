package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// dump reads a whole store into lists per kind; counters by key.
type dumped struct {
	messages     []store.StoredMessage
	recipients   []store.Recipient
	events       []store.AddressedEvent
	suppressions []store.Suppression
	audit        []store.AuditEntry
	counters     map[string]int64
	items        []store.Item
}

func dumpAll(t testing.TB, db store.Store) dumped {
	t.Helper()
	d := dumped{counters: map[string]int64{}}
	err := db.Dump(context.Background(), func(it store.Item) error {
		d.items = append(d.items, it)
		switch {
		case it.Message != nil:
			d.messages = append(d.messages, *it.Message)
		case it.Recipient != nil:
			r := *it.Recipient
			r.Suppressed, r.Suppression = false, nil
			d.recipients = append(d.recipients, r)
		case it.Event != nil:
			d.events = append(d.events, *it.Event)
		case it.Suppression != nil:
			d.suppressions = append(d.suppressions, *it.Suppression)
		case it.Audit != nil:
			d.audit = append(d.audit, *it.Audit)
		case it.Counter != nil:
			c := it.Counter
			d.counters[fmt.Sprintf("%v/%d/%c/%s/%s", c.Hourly, c.Period, c.Kind, c.A, c.B)] += c.N
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func compareDumps(t *testing.T, want, got dumped) {
	t.Helper()
	check := func(what string, w, g any) {
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s differ:\n got %+v\nwant %+v", what, g, w)
		}
	}
	check("messages", want.messages, got.messages)
	if len(want.recipients) != len(got.recipients) {
		t.Errorf("%d recipients, want %d", len(got.recipients), len(want.recipients))
	} else {
		for i := range want.recipients {
			if !equalRecipients(want.recipients[i], got.recipients[i]) {
				t.Errorf("recipient %d:\n got %+v\nwant %+v", i, got.recipients[i], want.recipients[i])
			}
		}
	}
	check("events", want.events, got.events)
	check("suppressions", want.suppressions, got.suppressions)
	check("audit entries", want.audit, got.audit)
	check("counters", want.counters, got.counters)
}

// richStore fills a store with every kind of record.
func richStore(t *testing.T, db store.Store, clock *time.Time) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour)
	*clock = now
	for i := range 30 {
		m := bounce(fmt.Sprintf("u%d@example.%d.com", i%9, i%2), []string{"hard", "soft", "complaint", "block", "delivered"}[i%5], now.Add(-time.Duration(30-i)*time.Hour))
		m.Observations = append(m.Observations, store.Observation{Recipient: "garbage", Class: "hard"})
		record(t, db, m)
	}
	if _, err := suppress(db, "manual@example.com", "asked", "by phone"); err != nil {
		t.Fatal(err)
	}
	if err := lift(db, "u1@example.1.com", "vouched"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SuppressMany(ctx, "import", []store.ManualSuppression{{Address: "old@example.org", Reason: "import", Detail: "ses", Since: now.Add(-100 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	// The retention has dropped the first messages' raw bytes: a copy
	// keeps them dropped.
	if st, err := db.Prune(ctx, store.Retention{RawMessages: 24 * time.Hour}, now); err != nil || st.RawMessages != 6 {
		t.Fatalf("prune: %+v, %v; want the raw bytes of the 6 messages older than a day", st, err)
	}
}

// A whole store copies to an empty one as it is, ids, numbers and times
// included; copying again changes nothing; the copy works on from there.
func testCopy(t *testing.T, h Harness) {
	var clock time.Time
	opts := Options{Now: func() time.Time { return clock }}
	src := open(t, h, opts)
	richStore(t, src, &clock)
	want := dumpAll(t, src)
	if len(want.messages) != 30 || len(want.events) == 0 || len(want.audit) < 3 || len(want.counters) == 0 {
		t.Fatalf("the source dumps little: %d messages, %d events, %d audit entries, %d counters",
			len(want.messages), len(want.events), len(want.audit), len(want.counters))
	}
	dst := open(t, h, opts)
	ctx := context.Background()
	load := func() {
		for i := 0; i < len(want.items); i += 17 {
			if err := dst.Load(ctx, want.items[i:min(i+17, len(want.items))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := dst.FinishLoad(ctx); err != nil {
			t.Fatal(err)
		}
	}
	load()
	compareDumps(t, want, dumpAll(t, dst))
	load() // a rerun
	compareDumps(t, want, dumpAll(t, dst))
	ws, _ := src.Stats(ctx)
	gs, err := dst.Stats(ctx)
	if err != nil || !reflect.DeepEqual(ws, gs) {
		t.Errorf("Stats of the copy %+v, %v; want %+v", gs, err, ws)
	}
	wa, _ := src.Activity(ctx, store.ActivityOptions{Days: 3})
	ga, err := dst.Activity(ctx, store.ActivityOptions{Days: 3})
	if err != nil || !reflect.DeepEqual(wa, ga) {
		t.Errorf("Activity of the copy %+v, %v; want %+v", ga, err, wa)
	}
	// Both go on alike: the same next message id and audit number.
	for _, db := range []store.Store{src, dst} {
		id := record(t, db, bounce("next@example.com", "complaint", clock))
		if id != want.messages[len(want.messages)-1].ID+1 {
			t.Errorf("next message id %d after %d", id, want.messages[len(want.messages)-1].ID)
		}
		trail, err := db.AuditAfter(ctx, want.audit[len(want.audit)-1].Seq, 0)
		if err != nil || len(trail) != 1 || trail[0].Seq != want.audit[len(want.audit)-1].Seq+1 {
			t.Errorf("trail after the copy %+v, %v", trail, err)
		}
		if _, events, err := db.Recipient(ctx, "u0@example.0.com"); err != nil || len(events) == 0 {
			t.Errorf("history after the copy: %v, %v", events, err)
		}
	}
	a, b := dumpAll(t, src), dumpAll(t, dst)
	if len(a.events) != len(b.events) || a.events[len(a.events)-1].Seq != b.events[len(b.events)-1].Seq {
		t.Errorf("event numbers diverge after the copy")
	}
}
