package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// serve's pruner applies [retention] to the store and says what it pruned;
// stopping it does not wait for its next pass.
func TestPrunerPass(t *testing.T) {
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "bouncesink.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	var ids []uint64
	for _, age := range []int{120, 10} {
		id, err := db.Record(ctx, store.Message{Received: now.AddDate(0, 0, -age), Raw: []byte("Subject: x\r\n\r\nx\r\n"),
			Observations: []store.Observation{{Recipient: "bob@example.net", Class: "hard"}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var logged bytes.Buffer
	p := newPruner(db, defaultConfig().Retention, func() time.Time { return now }, slog.New(slog.NewTextHandler(&logged, nil)))
	p.pass(ctx)
	if _, err := db.RawMessage(ctx, ids[0]); !errors.Is(err, store.ErrPruned) {
		t.Errorf("a message 120 days old: %v, want its raw bytes pruned (90 days by default)", err)
	}
	if _, err := db.RawMessage(ctx, ids[1]); err != nil {
		t.Errorf("a message 10 days old: %v", err)
	}
	if !strings.Contains(logged.String(), "pruned what the retention expired") || !strings.Contains(logged.String(), "raw_messages=1") {
		t.Errorf("log: %q", logged.String())
	}
	logged.Reset()
	p.pass(ctx)
	if logged.Len() != 0 {
		t.Errorf("a pass that prunes nothing logged %q", logged.String())
	}

	p.start()
	stopped := make(chan struct{})
	go func() { p.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop waited for the next pass")
	}
}
