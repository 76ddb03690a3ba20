package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// A rule that once called a blocklist bounce hard suppressed bob; after
// reclassify the current classifier reads it as block, bob is no longer
// suppressed, the history and raw messages are kept, and a manual
// suppression made by an admin survives.
func TestReclassifyFixesWrongSuppression(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "bouncesink.db")
	db, err := boltstore.Open(dbPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	blocked := fixture(t, "postfix-blocked.eml", "", "")
	when := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 2; i++ {
		// What an old, wrong rule said about this message.
		wrong := store.Observation{Recipient: "bob@example.net", Class: "hard", Reason: "user_unknown",
			Status: "5.1.1", Decoder: "old", Rule: "old-rule"}
		if _, err := db.Record(ctx, store.Message{Received: when.Add(time.Duration(i) * time.Hour),
			EnvelopeFrom: "", EnvelopeTo: []string{returnPath("bob@example.net")}, Raw: blocked,
			Observations: []store.Observation{wrong}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Suppression(ctx, "bob@example.net"); err != nil {
		t.Fatalf("setup: bob should be suppressed by the wrong rule: %v", err)
	}
	if _, err := db.Suppress(ctx, "carol@example.com", "asked to be removed", "by phone"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"reclassify", "--db", dbPath}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("reclassify exit %d: %s", code, stderr.String())
	}
	t.Logf("stdout:\n%sstderr:\n%s", stdout.String(), stderr.String())
	if !strings.Contains(stdout.String(), "bob@example.net: suppressed (hard") || !strings.Contains(stdout.String(), "-> not suppressed") {
		t.Errorf("summary does not list bob's lifted suppression:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "2/2 messages") {
		t.Errorf("no progress shown on stderr: %q", stderr.String())
	}

	db, err = boltstore.Open(dbPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if s, err := db.Suppression(ctx, "bob@example.net"); err == nil {
		t.Errorf("bob still suppressed after reclassify: %+v", s)
	}
	rec, events, err := db.Recipient(ctx, "bob@example.net")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counts["block"] != 2 || rec.Counts["hard"] != 0 {
		t.Errorf("bob's counts = %v, want 2 block and no hard", rec.Counts)
	}
	if len(events) != 2 || events[0].Class != "block" || events[0].Decoder == "old" {
		t.Errorf("bob's history = %+v, want the 2 bounces re-read as block", events)
	}
	if raw, err := db.RawMessage(ctx, events[0].MessageID); err != nil || !bytes.Equal(raw, blocked) {
		t.Errorf("raw message not kept: %v", err)
	}
	if s, err := db.Suppression(ctx, "carol@example.com"); err != nil || s.Reason != "manual" {
		t.Errorf("manual suppression lost: %+v, %v", s, err)
	}
}

func TestReclassifyMissingDatabase(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"reclassify", "--db", filepath.Join(t.TempDir(), "none.db")}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2 for a missing database (stderr %q)", code, stderr.String())
	}
}

// reclassify says how many messages it could not read again because the
// retention pruned their raw bytes, and keeps their verdicts.
func TestReclassifyCountsPrunedMessages(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "bouncesink.db")
	db, err := boltstore.Open(dbPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	blocked := fixture(t, "postfix-blocked.eml", "", "")
	when := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		wrong := store.Observation{Recipient: "bob@example.net", Class: "hard", Reason: "user_unknown", Decoder: "old", Rule: "old-rule"}
		if _, err := db.Record(ctx, store.Message{Received: when.AddDate(0, 0, 100*i),
			EnvelopeTo: []string{returnPath("bob@example.net")}, Raw: blocked,
			Observations: []store.Observation{wrong}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Prune(ctx, store.Retention{RawMessages: 50 * 24 * time.Hour}, when.AddDate(0, 0, 201)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"reclassify", "--db", dbPath, "--quiet"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("reclassify exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "could not re-read 2 messages: their raw bytes were pruned") {
		t.Errorf("summary does not count the 2 pruned messages:\n%s", stdout.String())
	}
	db, err = boltstore.Open(dbPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, events, err := db.Recipient(ctx, "bob@example.net")
	if err != nil || len(events) != 3 || events[0].Rule != "old-rule" || events[2].Rule == "old-rule" {
		t.Errorf("bob's history after reclassify: %+v, %v; want the 2 pruned messages' old verdicts and a new one", events, err)
	}
}
