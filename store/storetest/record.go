package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// One garbage recipient must not lose the rest of the message.
func testRecordSkipsInvalidRecipients(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	m := store.Message{
		Received: t0,
		Raw:      []byte("report"),
		Observations: []store.Observation{
			{Recipient: "not an address", Class: "hard"},
			{Recipient: "", Class: "complaint"},
			{Recipient: "<Carol@Example.com>", Class: "hard", Reason: "user-unknown"},
			{Recipient: "carol@example.com", Class: "hard", Reason: "user-unknown"},
		},
	}
	id := record(t, db, m)

	r, events, err := db.Recipient(ctx, "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Two observations of the same address in one message both count.
	if r.Counts["hard"] != 2 || len(events) != 2 || !r.Suppressed {
		t.Errorf("carol: counts %v, %d events, suppressed %v; want 2 hard, 2 events, suppressed", r.Counts, len(events), r.Suppressed)
	}
	if events[0].MessageID != id || events[0].Recipient != "<Carol@Example.com>" || events[0].Seq >= events[1].Seq {
		t.Errorf("first event %+v", events[0])
	}
	if _, _, err := db.Recipient(ctx, "not an address"); !errors.Is(err, store.ErrInvalidAddress) {
		t.Errorf("Recipient(garbage): %v, want ErrInvalidAddress", err)
	}

	// The message keeps all four observations, garbage included.
	msgs := allMessages(t, db)
	if len(msgs) != 1 || msgs[0].ID != id || !reflect.DeepEqual(msgs[0].Observations, m.Observations) {
		t.Errorf("stored message %+v, want all four observations of %+v", msgs, m.Observations)
	}
}

func testRecordRefuses(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Record(ctx, bounce("a@example.com", "hard", t0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a cancelled context: %v", err)
	}
	if _, err := db.Record(context.Background(), bounce("a@example.com", "hard", time.Time{})); err == nil {
		t.Error("Record without a received time succeeded")
	}
	if _, _, err := db.Recipient(context.Background(), "a@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused messages left state: %v", err)
	}
}

// Concurrent SMTP sessions share group-committed transactions; none may lose or
// double an observation.
func testRecordConcurrent(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	const (
		workers = 50
		each    = 8
		addrs   = 7
	)
	var wg sync.WaitGroup
	ids := make(chan uint64, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m := bounce(fmt.Sprintf("user%d@example.com", (w+i)%addrs), "delayed", day(float64(i)))
				m.Observations = append(m.Observations, store.Observation{Recipient: "shared@example.com", Class: "soft"})
				id, err := db.Record(ctx, m)
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		})
	}
	wg.Wait()
	close(ids)

	seen := make(map[uint64]bool)
	for id := range ids {
		if seen[id] {
			t.Errorf("message id %d handed out twice", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d ids, want %d", len(seen), workers*each)
	}
	total := 0
	for a := range addrs {
		r, events, err := db.Recipient(ctx, fmt.Sprintf("user%d@example.com", a))
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts["delayed"] != len(events) {
			t.Errorf("user%d: count %d, %d events", a, r.Counts["delayed"], len(events))
		}
		total += len(events)
	}
	if total != workers*each {
		t.Errorf("%d events, want %d", total, workers*each)
	}
	r, events, err := db.Recipient(ctx, "shared@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts["soft"] != workers*each || len(events) != workers*each {
		t.Errorf("shared: %d soft, %d events; want %d", r.Counts["soft"], len(events), workers*each)
	}
	for i := 1; i < len(events); i++ {
		if events[i-1].Seq >= events[i].Seq {
			t.Fatalf("history out of order at %d", i)
		}
	}
}

func testClose(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := db.Record(context.Background(), bounce("a@example.com", "hard", t0)); err == nil {
		t.Error("Record after Close succeeded")
	}
}

// Everything recorded survives a restart: counts, history, suppressions
// and the raw bytes.
func testReopen(t *testing.T, h Harness) {
	db, o := openWith(t, h, Options{})
	ctx := context.Background()
	const n = 30
	raws := make(map[uint64][]byte)
	for i := range n {
		addr := fmt.Sprintf("user%d@example.com", i%10)
		m := bounce(addr, "hard", day(float64(i)))
		m.Raw = append(m.Raw, bytes.Repeat([]byte(fmt.Sprintf("line %d of the original message\r\n", i)), i)...)
		id := record(t, db, m)
		raws[id] = m.Raw
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = reopen(t, o, Options{})
	for i := range 10 {
		addr := fmt.Sprintf("user%d@example.com", i)
		r, events, err := db.Recipient(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts["hard"] != 3 || len(events) != 3 {
			t.Errorf("%s: %d hard, %d events; want 3 and 3", addr, r.Counts["hard"], len(events))
		}
		for j, e := range events {
			if want := day(float64(i + 10*j)); !e.Time.Equal(want) {
				t.Errorf("%s event %d at %v, want %v", addr, j, e.Time, want)
			}
		}
		// Hard bounces 10 days apart: the second one suppresses.
		if !r.Suppressed || !r.Suppression.Since.Equal(day(float64(i+10))) {
			t.Errorf("%s: suppression %+v, want since day %d", addr, r.Suppression, i+10)
		}
	}
	for id, want := range raws {
		got, err := db.RawMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("message %d: raw bytes differ after reopen", id)
		}
	}
	// Ids keep counting from where they were.
	if id := record(t, db, bounce("new@example.com", "soft", day(40))); id != n+1 {
		t.Errorf("next id %d, want %d", id, n+1)
	}
}
