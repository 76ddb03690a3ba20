package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bouncesink/bouncesink/store"
)

// Record finds the addresses it touches by key however small their table
// was when the connection's statements were first run: a generic plan
// made while recipients held a few rows scanned the whole table for
// every group commit once it held thousands (see writersSQL).
func TestRecordLooksUpByKeyAfterGrowth(t *testing.T) {
	dsn := newDSN(t)
	ctx := context.Background()
	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	record := func(i int) {
		t.Helper()
		// A dozen recipients, as a group commit of a busy server has.
		var obs []store.Observation
		for j := range 12 {
			obs = append(obs, store.Observation{Recipient: fmt.Sprintf("r%d.%d@example.com", i, j), Class: "hard", Status: "5.1.1"})
		}
		_, err := db.Record(ctx, store.Message{Received: at.Add(time.Duration(i) * time.Second), Raw: []byte("bounce"), Observations: obs})
		if err != nil {
			t.Fatal(err)
		}
	}
	// One at a time, so that each is a group of its own: more than the
	// five runs after which the server may settle on a generic plan, on
	// every connection the group commits use.
	for i := range 30 {
		record(i)
	}
	// The table grows without an ANALYZE, as between two of autovacuum's.
	const grown = 20_000
	if _, err := db.pool.Exec(ctx, `INSERT INTO recipients (address, state, last_class, last_reason, last_status, last_bounce)
		SELECT 'bulk' || i || '@example.com', '\x7b7d', 'hard', '', '', 0 FROM generate_series(1, $1) i`, grown); err != nil {
		t.Fatal(err)
	}
	for i := 30; i < 60; i++ {
		record(i)
	}
	db.Close() // the server counts a backend's scans by the time it exits

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var read int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		var inserted int64
		err := conn.QueryRow(ctx, `SELECT n_tup_ins, seq_tup_read FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = 'recipients'`).Scan(&inserted, &read)
		if err != nil {
			t.Fatal(err)
		}
		if inserted >= grown+60*12 || time.Now().After(deadline) {
			if inserted < grown+60*12 {
				t.Fatalf("the server counted %d rows inserted into recipients after 10 s, want %d", inserted, grown+60*12)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Before the growth, scans of the table read at most 5,220 rows in
	// all (12 more each time); after it, any scan reads the 20,000.
	if read >= grown {
		t.Errorf("recipients: %d rows read by sequential scans, want none of the %d rows added (lookups by key)", read, grown)
	}
}

// A message and its copy in one group commit: the copy is a duplicate of
// the message stored by the same transaction, and is counted on it.
func TestRecordGroupCountsDuplicateOfItsOwnMessage(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, newDSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(at time.Time) *pending {
		return &pending{at: at, head: []byte(`{"raw_size":6}`), raw: compress([]byte("bounce")), rawSize: 6,
			digest: []byte("same bytes"), done: make(chan error, 1)}
	}
	first, copy := mk(at), mk(at.Add(time.Second))
	if err := db.recordGroup(ctx, []*pending{first, copy}); err != nil {
		t.Fatal(err)
	}
	if first.duplicate || !copy.duplicate || copy.id != first.id {
		t.Fatalf("first: id %d, duplicate %v; copy: id %d, duplicate %v; want the copy a duplicate of the first", first.id, first.duplicate, copy.id, copy.duplicate)
	}
	var n int
	var last int64
	if err := db.pool.QueryRow(ctx, "SELECT duplicates, last_duplicate FROM messages WHERE id = $1", int64(first.id)).Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	if n != 1 || last != nanos(copy.at) {
		t.Errorf("message %d: %d duplicates, the last at %d; want 1 at %d", first.id, n, last, nanos(copy.at))
	}
}
