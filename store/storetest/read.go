package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

func testCheck(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	record(t, db, bounce("hard@example.com", "hard", day(0)))
	record(t, db, bounce("hard@example.com", "hard", day(1)))
	record(t, db, bounce("angry@bücher.example", "complaint", day(2)))
	record(t, db, bounce("once@example.com", "hard", day(3)))

	in := []string{
		"nobody@example.com",
		"<HARD@example.com>",
		"garbage",
		"once@example.com",
		"Angry@xn--bcher-kva.example",
		"",
		"hard@example.com",
	}
	got, err := db.Check(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "hard", "", "", "complaint", "", "hard"}
	if len(got) != len(in) {
		t.Fatalf("%d results for %d addresses", len(got), len(in))
	}
	for i := range in {
		switch {
		case want[i] == "" && got[i] != nil:
			t.Errorf("%q: suppressed %+v, want nil", in[i], got[i])
		case want[i] != "" && (got[i] == nil || got[i].Reason != want[i]):
			t.Errorf("%q: %+v, want reason %s", in[i], got[i], want[i])
		}
	}
	if got[1] == got[6] {
		t.Error("duplicate addresses share one *Suppression; a caller editing one would change the other")
	}
	if got, err := db.Check(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Check(nil) = %v, %v", got, err)
	}
}

func testRecipientHistoryLimit(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	m := store.Message{Received: t0}
	for i := range store.MaxHistory + 5 {
		m.Observations = append(m.Observations, store.Observation{Recipient: "busy@example.com", Class: "autoreply", Reason: fmt.Sprint(i)})
	}
	// A neighbour whose keys sort right after busy's must not leak into its history.
	m.Observations = append(m.Observations, store.Observation{Recipient: "busy@example.co", Class: "block"}, store.Observation{Recipient: "busy@example.comm", Class: "block"})
	record(t, db, m)

	r, events, err := db.Recipient(ctx, "busy@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts["autoreply"] != store.MaxHistory+5 {
		t.Errorf("count %d, want %d", r.Counts["autoreply"], store.MaxHistory+5)
	}
	if len(events) != store.MaxHistory {
		t.Fatalf("%d events, want the latest %d", len(events), store.MaxHistory)
	}
	if events[0].Reason != "5" || events[len(events)-1].Reason != fmt.Sprint(store.MaxHistory+4) {
		t.Errorf("events run from %s to %s, want 5 to %d", events[0].Reason, events[len(events)-1].Reason, store.MaxHistory+4)
	}
	for _, addr := range []string{"busy@example.co", "busy@example.comm"} {
		if _, events, err := db.Recipient(ctx, addr); err != nil || len(events) != 1 {
			t.Errorf("%s: %d events, %v; want 1", addr, len(events), err)
		}
	}
}

func testRawMessage(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	random := make([]byte, 10000)
	rand.Read(random)
	for name, raw := range map[string][]byte{
		"text":           bytes.Repeat([]byte("Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"), 200),
		"incompressible": random,
		"empty":          nil,
	} {
		m := bounce("a@example.com", "hard", t0)
		m.Raw = raw
		id := record(t, db, m)
		got, err := db.RawMessage(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: %d bytes back, want %d", name, len(got), len(raw))
		}
	}
	if _, err := db.RawMessage(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RawMessage(999): %v, want ErrNotFound", err)
	}
}

func testSuppressionsPages(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	m := store.Message{Received: t0}
	for i := range 25 {
		m.Observations = append(m.Observations, store.Observation{Recipient: fmt.Sprintf("u%02d@example.com", i), Class: "complaint"})
	}
	record(t, db, m)
	var all []string
	after := ""
	for {
		page, err := db.Suppressions(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, s := range page {
			all = append(all, s.Address)
		}
		after = page[len(page)-1].Address
	}
	if len(all) != 25 || all[0] != "u00@example.com" || all[24] != "u24@example.com" {
		t.Errorf("paged through %v", all)
	}
}

func testMessagesPages(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	for i := range 25 {
		m := bounce(fmt.Sprintf("u%d@example.com", i), "hard", day(float64(i)))
		m.EnvelopeFrom = fmt.Sprintf("sender%d@example.net", i)
		record(t, db, m)
	}
	var got []store.StoredMessage
	after := uint64(0)
	for {
		page, err := db.Messages(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if len(got) != 25 {
		t.Fatalf("paged through %d messages, want 25", len(got))
	}
	for i, m := range got {
		want := bounce(fmt.Sprintf("u%d@example.com", i), "hard", day(float64(i)))
		if m.ID != uint64(i+1) || !m.Received.Equal(want.Received) || m.EnvelopeFrom != fmt.Sprintf("sender%d@example.net", i) ||
			!bytes.Equal(m.Raw, want.Raw) || len(m.Observations) != 1 || m.Observations[0] != want.Observations[0] {
			t.Errorf("message %d: %+v", i+1, m)
		}
	}
	if page, err := db.Messages(ctx, 0, 0); err != nil || len(page) != 25 {
		t.Errorf("Messages with no limit: %d, %v", len(page), err)
	}
}

// History pages backwards through one address's events, past the
// store.MaxHistory that Recipient returns, without touching its neighbours'.
func testHistoryPages(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	const n = store.MaxHistory + 205
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				obs := []store.Observation{{Recipient: "busy@example.org", Class: "soft", Reason: "mailbox_full", Detail: strconv.Itoa(i)}}
				if i%100 == 0 {
					obs = append(obs, store.Observation{Recipient: "busy@example.org.uk", Class: "hard", Reason: "user_unknown"})
				}
				if _, err := db.Record(ctx, store.Message{Received: at.Add(time.Duration(i) * time.Second), Observations: obs}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	_, latest, err := db.Recipient(ctx, "busy@example.org")
	if err != nil || len(latest) != store.MaxHistory {
		t.Fatalf("Recipient: %d events, %v; want the latest %d", len(latest), err, store.MaxHistory)
	}
	var all []store.Event
	before := uint64(0)
	for page := 0; ; page++ {
		events, next, err := db.History(ctx, "Busy@Example.org", before, 300)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, events...)
		if next == 0 {
			break
		}
		if len(events) != 300 || next != events[len(events)-1].Seq {
			t.Fatalf("page %d: %d events, next %d", page, len(events), next)
		}
		before = next
	}
	if len(all) != n {
		t.Fatalf("History gave %d events in all, want %d", len(all), n)
	}
	seen := map[string]bool{}
	for i, e := range all {
		if e.Recipient != "busy@example.org" || (i > 0 && e.Seq >= all[i-1].Seq) {
			t.Fatalf("event %d: %+v, want busy@example.org's, newest first", i, e)
		}
		seen[e.Detail] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct events, want %d", len(seen), n)
	}
	if events, next, err := db.History(ctx, "nobody@example.org", 0, 10); err != nil || len(events) != 0 || next != 0 {
		t.Errorf("History of an unknown address = %v %d %v", events, next, err)
	}
}

// A recipient's LastDiagnostic is its latest bounce's, whichever message
// and observation it came from: one that arrives late does not replace
// it; admin actions, a reopen, a Rebuild and a copy keep it.
func testLastDiagnostic(t *testing.T, h Harness) {
	ctx := context.Background()
	db, o := openWith(t, h, Options{})
	const addr = "last@example.com"
	check := func(db store.Store, when, want string) {
		t.Helper()
		r, _, err := db.Recipient(ctx, addr)
		if err != nil || r.LastDiagnostic != want {
			t.Errorf("%s: last diagnostic %q, %v; want %q", when, r.LastDiagnostic, err, want)
		}
	}
	second := store.Message{Received: day(2), Raw: []byte("two\r\n"), Observations: []store.Observation{
		{Recipient: "other@example.com", Class: "hard", Diagnostic: "the other's"},
		{Recipient: "not an address", Class: "unknown", Diagnostic: "nobody's"},
		{Recipient: addr, Class: "soft", Diagnostic: "452 4.2.2 mailbox full (day 2)"},
	}}
	record(t, db, bounce(addr, "soft", day(1)))
	record(t, db, second)
	check(db, "after day 2", "452 4.2.2 mailbox full (day 2)")
	record(t, db, bounce(addr, "hard", day(0.5))) // arrives late
	check(db, "after a late bounce", "452 4.2.2 mailbox full (day 2)")
	if _, err := suppress(db, addr, "asked", ""); err != nil {
		t.Fatal(err)
	}
	if err := lift(db, addr, "vouched"); err != nil {
		t.Fatal(err)
	}
	check(db, "after a suppress and a lift", "452 4.2.2 mailbox full (day 2)")
	m := bounce(addr, "delayed", day(3))
	m.Observations[0].Diagnostic = ""
	record(t, db, m)
	check(db, "after a bounce with no diagnostic", "")
	record(t, db, bounce(addr, "soft", day(4)))
	want := bounce(addr, "soft", day(4)).Observations[0].Diagnostic
	check(db, "after day 4", want)

	db.Close()
	db = reopen(t, o, Options{})
	check(db, "reopened", want)
	if _, err := db.Rebuild(ctx, keepObservations, store.RebuildOptions{ChunkMessages: 2}); err != nil {
		t.Fatal(err)
	}
	check(db, "after a rebuild", want)
	d := dumpAll(t, db)
	dst := open(t, h, Options{})
	if err := dst.Load(ctx, d.items); err != nil {
		t.Fatal(err)
	}
	check(dst, "copied", want)
}
