package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

func testStats(t *testing.T, h Harness) {
	clock := day(10)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	if st, err := db.Stats(ctx); err != nil || !reflect.DeepEqual(st, store.Stats{SuppressedByReason: map[string]int{}}) {
		t.Errorf("empty store: %+v, %v", st, err)
	}
	record(t, db, bounce("a@example.com", "hard", day(0)))
	record(t, db, bounce("a@example.com", "hard", day(1)))
	record(t, db, bounce("b@example.com", "complaint", day(1)))
	record(t, db, bounce("c@example.com", "soft", day(1)))
	record(t, db, store.Message{Received: day(2), Observations: []store.Observation{{Recipient: "nobody", Class: "hard"}}})
	suppress(db, "d@example.com", "asked", "")
	suppress(db, "a@example.com", "already suppressed: no change", "")
	if err := lift(db, "b@example.com", ""); err != nil {
		t.Fatal(err)
	}
	lift(db, "c@example.com", "") // not suppressed: no change to the counts
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Stats{Messages: 5, Recipients: 4, Events: 7, Suppressed: 2, SuppressedByReason: map[string]int{"hard": 1, "manual": 1}}
	st.RawBytes = 0 // testRawBytes checks it
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	checkStats(t, db, []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"})
}
