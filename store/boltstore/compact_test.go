package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Compact gives back the space a prune freed, and the store reads the same.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t, Options{})
	db.bolt.NoSync = true // thousands of commits; durability is not this test's subject
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		m := bounce(fmt.Sprintf("u%d@example.com", i), "hard", day(float64(i)/100))
		m.Raw = fmt.Appendf(nil, "%d ", i)
		for range 400 {
			m.Raw = binary.LittleEndian.AppendUint64(m.Raw, rng.Uint64()) // 3 KB that do not compress
		}
		// Inline, as files written before the journal hold them: a
		// journaled message's bytes live in its segment, which the
		// prune deletes whole, and leave nothing in the file to give back.
		recordInline(t, db, m)
	}
	if _, err := db.Suppress(ctx, "manual@example.com", "asked", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prune(ctx, store.Retention{RawMessages: 24 * time.Hour}, day(20)); err != nil {
		t.Fatal(err)
	}
	statsBefore, _ := db.Stats(ctx)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := Compact(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	t.Logf("%d -> %d bytes in %s", st.Before, st.After, st.Took)
	if st.After != fi.Size() || st.After > st.Before/3 {
		t.Errorf("compact: %+v, file now %d bytes; want under a third: 90%% of the raw messages were pruned", st, fi.Size())
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is left: %v", err)
	}

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	statsAfter, err := db.Stats(ctx)
	if err != nil || fmt.Sprint(statsAfter) != fmt.Sprint(statsBefore) {
		t.Errorf("stats after %+v, before %+v (%v)", statsAfter, statsBefore, err)
	}
	if got, err := db.RawMessage(ctx, 1999); err != nil || !bytes.HasPrefix(got, []byte("1998 ")) {
		t.Errorf("raw message 1999: %.20q, %v", got, err)
	}
	if _, err := db.RawMessage(ctx, 1); !errors.Is(err, store.ErrPruned) {
		t.Errorf("raw message 1: %v, want still pruned", err)
	}
	if _, err := db.Suppression(ctx, "manual@example.com"); err != nil {
		t.Error(err)
	}
	if id := record(t, db, bounce("new@example.com", "hard", day(21))); id != 2001 {
		t.Errorf("a new message got id %d, want 2001: the sequences survive", id)
	}

	// A store another process holds is left alone.
	if _, err := Compact(path, 100*time.Millisecond); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Compact of an open store: %v, want ErrLocked", err)
	}
}

// Commits write the freelist while it is short, and stop after a prune
// frees thousands of pages; a store closed then opens by walking its file
// and reads the same. The raw messages are kept inline, as files written
// before the journal keep them: the journal's are not in the file.
func TestFreelistSyncFollowsItsLength(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t, Options{})
	db.bolt.NoSync = true // durability is not this test's subject
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		m := bounce(fmt.Sprintf("u%d@example.com", i), "hard", day(float64(i)/1000))
		for range 400 {
			m.Raw = binary.LittleEndian.AppendUint64(m.Raw, rng.Uint64())
		}
		recordInline(t, db, m)
	}
	if db.bolt.NoFreelistSync {
		t.Fatalf("the freelist is not written before any prune: %d free pages", db.bolt.Stats().FreePageN)
	}
	if _, err := db.Prune(ctx, store.Retention{RawMessages: 24 * time.Hour}, day(4)); err != nil {
		t.Fatal(err)
	}
	record(t, db, bounce("after@example.com", "hard", day(4)))
	if st := db.bolt.Stats(); !db.bolt.NoFreelistSync || st.FreePageN < maxSyncedFreePages {
		t.Errorf("after freeing %d pages, writing the freelist is %v", st.FreePageN, !db.bolt.NoFreelistSync)
	}
	before, _ := db.Stats(ctx)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after, err := db.Stats(ctx)
	if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("reopened: %+v, %v; want %+v", after, err, before)
	}
	if free := db.bolt.Stats().FreePageN; free < maxSyncedFreePages {
		t.Errorf("reopened with %d free pages, want the prune's", free)
	}
	if _, _, err := db.Recipient(ctx, "after@example.com"); err != nil {
		t.Error(err)
	}
}
