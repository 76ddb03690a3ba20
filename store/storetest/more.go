package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Text from a bounce may hold anything: NULs, bytes that are not UTF-8.
// It is recorded all the same (an error here would turn the bounce into a
// 451 its sender retries for ever), and reads back as it went in where it
// is valid UTF-8.
func testRecordOddText(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	o := store.Observation{Recipient: "odd@example.com", Class: "complaint", Reason: "nul\x00reason",
		Diagnostic: "bad \xff\xfe bytes", Detail: "tab\tand\x00nul", RemoteMTA: "mx\x00.example"}
	m := store.Message{Received: t0, EnvelopeFrom: "from\x00@example.com", EnvelopeTo: []string{"to\xff@example.com"},
		Raw: []byte("raw \x00\xff bytes"), Observations: []store.Observation{o}}
	id := record(t, db, m)
	r, events, err := db.Recipient(ctx, "odd@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Suppressed || len(events) != 1 || events[0].Reason != o.Reason || events[0].Detail != o.Detail || events[0].RemoteMTA != o.RemoteMTA {
		t.Errorf("recipient %+v events %+v", r, events)
	}
	if raw, err := db.RawMessage(ctx, id); err != nil || string(raw) != string(m.Raw) {
		t.Errorf("raw %q, %v", raw, err)
	}
	msgs := allMessages(t, db)
	if len(msgs) != 1 || msgs[0].Observations[0].Reason != o.Reason {
		t.Errorf("messages %+v", msgs)
	}
	if _, err := suppress(db, "odd2@example.com", "detail\x00with nul \xff", "note\x00"); err != nil {
		t.Errorf("Suppress with odd text: %v", err)
	}
	if s, err := db.Suppression(ctx, "odd2@example.com"); err != nil || s.Reason != store.ReasonManual {
		t.Errorf("Suppression = %+v, %v", s, err)
	}
	if entries, _, err := db.Audit(ctx, store.AuditFilter{}, 0, 0); err != nil || len(entries) != 2 {
		t.Errorf("audit %+v, %v", entries, err)
	}
}

// An import is SuppressMany in chunks; an export pages through
// Suppressions. Exporting a store and importing the list into another gives
// the same list.
func testSuppressManyImport(t *testing.T, h Harness) {
	clock := day(50)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	record(t, db, bounce("spam@example.com", "complaint", day(3)))
	res, err := db.SuppressMany(ctx, "importer", []store.ManualSuppression{
		{Address: "A@Example.com", Reason: "import", Detail: "ses:bounce", Since: day(1), Note: "from SES"},
		{Address: "spam@example.com", Reason: "import", Detail: "already"},
		{Address: "not an address"},
		{Address: "future@example.com", Reason: "import", Since: day(99)},
		{Address: "b@example.com"},
		{Address: "a@example.com", Reason: "import", Detail: "twice in one chunk"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("%d results for 6", len(res))
	}
	want := []store.SuppressResult{
		{Suppression: store.Suppression{Address: "a@example.com", Reason: "import", Detail: "ses:bounce", Since: day(1)}, Added: true},
		{Suppression: store.Suppression{Address: "spam@example.com", Reason: "complaint", Detail: "complaint-reason", Since: day(3)}},
		{},
		{Suppression: store.Suppression{Address: "future@example.com", Reason: "import", Since: day(50)}, Added: true},
		{Suppression: store.Suppression{Address: "b@example.com", Reason: "manual", Since: day(50)}, Added: true},
		{Suppression: store.Suppression{Address: "a@example.com", Reason: "import", Detail: "ses:bounce", Since: day(1)}},
	}
	for i := range want {
		got := res[i]
		if (got.Err != nil) != (i == 2) {
			t.Errorf("result %d: error %v", i, got.Err)
		}
		got.Err = nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("result %d = %+v, want %+v", i, got, want[i])
		}
	}
	entries, _, err := db.Audit(ctx, store.AuditFilter{Actor: "importer"}, 0, 0)
	if err != nil || len(entries) != 3 {
		t.Fatalf("importer's audit entries %+v, %v; want 3", entries, err)
	}
	if e := entries[2]; e.Address != "a@example.com" || e.Note != "from SES" || e.After == nil || e.After.Detail != "ses:bounce" {
		t.Errorf("first import entry %+v", e)
	}
	if _, events, err := db.Recipient(ctx, "a@example.com"); err != nil || len(events) != 1 || events[0].Class != store.ClassAdmin {
		t.Errorf("imported address history %+v, %v", events, err)
	}

	// Export, then import into an empty store.
	exported := allSuppressions(t, db)
	if len(exported) != 4 || !slices.IsSortedFunc(exported, func(a, b store.Suppression) int {
		return compareStrings(a.Address, b.Address)
	}) {
		t.Fatalf("export %+v, want 4 in address order", exported)
	}
	other := open(t, h, Options{Now: func() time.Time { return clock }})
	var list []store.ManualSuppression
	for _, s := range exported {
		list = append(list, store.ManualSuppression{Address: s.Address, Reason: s.Reason, Detail: s.Detail, Since: s.Since})
	}
	if _, err := other.SuppressMany(ctx, "import", list); err != nil {
		t.Fatal(err)
	}
	if got := allSuppressions(t, other); !reflect.DeepEqual(got, exported) {
		t.Errorf("imported export:\n got %+v\nwant %+v", got, exported)
	}
	// Suppressions pages past an address, and limit 0 means the most.
	if page, err := db.Suppressions(ctx, "b@example.com", 0); err != nil || len(page) != 2 || page[0].Address != "future@example.com" {
		t.Errorf("Suppressions after b@: %+v, %v", page, err)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Audit pages by address, newest first, with before as the cursor; the
// entries of other addresses never show.
func testAuditPagesByAddress(t *testing.T, h Harness) {
	clock := day(1)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	for i := range 12 {
		clock = day(float64(i))
		for _, a := range []string{"ann@example.com", "ann@example.co", "ann@example.comm"} {
			if i%2 == 0 {
				suppress(db, a, fmt.Sprint(i), "")
			} else if err := lift(db, a, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []uint64
	before := uint64(0)
	for pages := 0; ; pages++ {
		list, next, err := db.Audit(ctx, store.AuditFilter{Address: "ANN@example.com"}, before, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.Address != "ann@example.com" {
				t.Errorf("entry of %s listed", e.Address)
			}
			got = append(got, e.Seq)
		}
		if next == 0 {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		before = next
	}
	if len(got) != 12 || !slices.IsSortedFunc(got, func(a, b uint64) int { return int(b) - int(a) }) {
		t.Errorf("ann's entries %v, want 12 newest first", got)
	}
	since, _, err := db.Audit(ctx, store.AuditFilter{Address: "ann@example.com", Since: day(10)}, 0, 0)
	if err != nil || len(since) != 2 {
		t.Errorf("since day 10: %d entries, %v; want 2", len(since), err)
	}
	all, err := db.AuditAfter(ctx, 0, 0)
	if err != nil || len(all) != 36 {
		t.Fatalf("AuditAfter: %d entries, %v", len(all), err)
	}
	for i, e := range all {
		if i > 0 && e.Seq != all[i-1].Seq+1 {
			t.Fatalf("the trail has a gap: %d after %d", e.Seq, all[i-1].Seq)
		}
	}
	if page, err := db.AuditAfter(ctx, all[10].Seq, 3); err != nil || len(page) != 3 || page[0].Seq != all[11].Seq {
		t.Errorf("AuditAfter(%d, 3) = %+v, %v", all[10].Seq, page, err)
	}
}

// follow reads the trail of db from after the entry after as a feed
// reader does (AuditChanged, then AuditAfter, waiting only on an empty
// read) until it has n entries or the deadline passes.
func follow(ctx context.Context, db store.Store, after uint64, n int) ([]store.AuditEntry, error) {
	var got []store.AuditEntry
	for len(got) < n {
		ch := db.AuditChanged()
		page, err := db.AuditAfter(ctx, after, 0)
		if err != nil {
			return got, err
		}
		if len(page) == 0 {
			select {
			case <-ch:
			case <-ctx.Done():
				return got, fmt.Errorf("waited for entry %d of %d: %w", len(got)+1, n, ctx.Err())
			}
			continue
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	return got, nil
}

// checkTrail checks that a follower saw every entry once, in order, with
// no gap in the numbers.
func checkTrail(t *testing.T, got []store.AuditEntry, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("follower saw %d entries, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for i, e := range got {
		if i > 0 && e.Seq != got[i-1].Seq+1 {
			t.Errorf("entry %d has seq %d after %d", i, e.Seq, got[i-1].Seq)
		}
		if seen[e.Address] {
			t.Errorf("%s seen twice", e.Address)
		}
		seen[e.Address] = true
	}
}

// A follower of the trail sees every entry that concurrent writers
// append, once and in order, without polling.
func testAuditChangedConcurrent(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	const writers, each = 8, 10
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []store.AuditEntry
	var ferr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		got, ferr = follow(ctx, db, 0, writers*each)
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				addr := fmt.Sprintf("w%d-%d@example.com", w, i)
				if i%2 == 0 {
					record(t, db, bounce(addr, "complaint", day(float64(i))))
				} else if _, err := suppress(db, addr, "", ""); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	<-done
	if ferr != nil {
		t.Fatal(ferr)
	}
	checkTrail(t, got, writers*each)
}

// Two instances on one database: bounces for one address arriving at both
// at once give the counts and the single suppression one instance would.
func testInstancesShareOneAddress(t *testing.T, h Harness) {
	a, o := openWith(t, h, Options{})
	b := reopen(t, o, Options{})
	ctx := context.Background()
	const each = 40
	var wg sync.WaitGroup
	for i, db := range []store.Store{a, b, a, b} {
		wg.Go(func() {
			for j := range each {
				m := bounce("shared@example.com", "hard", day(float64(j)/100))
				m.Observations = append(m.Observations,
					store.Observation{Recipient: "shared@example.com", Class: "complaint", Reason: fmt.Sprint(i)},
					store.Observation{Recipient: fmt.Sprintf("own%d-%d@example.com", i, j), Class: "soft"})
				record(t, db, m)
			}
		})
	}
	wg.Wait()
	for _, db := range []store.Store{a, b} {
		r, events, err := db.Recipient(ctx, "shared@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts["hard"] != 4*each || r.Counts["complaint"] != 4*each || r.Complaints != 4*each || len(events) != 8*each || !r.Suppressed {
			t.Errorf("shared: counts %v, %d complaints, %d events, suppressed %v; want %d of each", r.Counts, r.Complaints, len(events), r.Suppressed, 4*each)
		}
		entries, _, err := db.Audit(ctx, store.AuditFilter{Address: "shared@example.com"}, 0, 0)
		if err != nil || len(entries) != 1 {
			t.Errorf("audit of shared@: %+v, %v; want one suppression", entries, err)
		}
		st, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Messages != 4*each || st.Recipients != 1+4*each || st.Events != 12*each || st.Suppressed != 1 {
			t.Errorf("Stats %+v", st)
		}
	}
	ca, err := a.Check(ctx, []string{"shared@example.com", "own0-0@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Check(ctx, []string{"shared@example.com", "own0-0@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ca, cb) || ca[0] == nil || ca[1] != nil {
		t.Errorf("the instances answer Check differently: %+v and %+v", ca, cb)
	}
}

// A follower on one instance sees, in order and without a gap, what
// writers on both instances append.
func testInstancesShareTheAuditTrail(t *testing.T, h Harness) {
	a, o := openWith(t, h, Options{})
	b := reopen(t, o, Options{})
	const each = 30
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []store.AuditEntry
	var ferr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		got, ferr = follow(ctx, a, 0, 4*each)
	}()
	var wg sync.WaitGroup
	for i, db := range []store.Store{a, b, b, b} {
		wg.Go(func() {
			for j := range each {
				record(t, db, bounce(fmt.Sprintf("c%d-%d@example.com", i, j), "complaint", t0))
			}
		})
	}
	wg.Wait()
	<-done
	if ferr != nil {
		t.Fatal(ferr)
	}
	checkTrail(t, got, 4*each)
}
