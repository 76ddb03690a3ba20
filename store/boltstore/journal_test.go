package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// journalOnly records msgs with the apply held back, then closes the
// store: what a crash after the journal's fsync and before the apply
// leaves on disk.
func journalOnly(t *testing.T, db *DB, msgs []store.Message) []uint64 {
	t.Helper()
	db.holdApply.Store(true)
	var ids []uint64
	for _, m := range msgs {
		id, err := db.Record(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func hardBounces(n int, at time.Time) []store.Message {
	var msgs []store.Message
	for i := range n {
		m := bounce(fmt.Sprintf("u%d@example.com", i%7), "hard", at.Add(time.Duration(i)*time.Minute))
		m.Raw = append(m.Raw, bytes.Repeat([]byte(fmt.Sprintf("line %d of the report\r\n", i)), 40)...)
		m.Digest = []byte(fmt.Sprintf("digest %d", i))
		msgs = append(msgs, m)
	}
	return msgs
}

// Messages journaled and never applied are applied when the store opens
// again, once: the same state as a store that applied them as it went.
func TestJournalReplaysUnappliedMessages(t *testing.T) {
	ctx := context.Background()
	msgs := hardBounces(50, day(1))

	ref, _ := openTest(t, Options{})
	for _, m := range msgs {
		record(t, ref, m)
	}
	want, err := ref.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	db, path := openTest(t, Options{})
	ids := journalOnly(t, db, msgs)
	if n := len(db.apq.frames); n != len(msgs) {
		t.Fatalf("%d frames left unapplied, want %d", n, len(msgs))
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Stats(ctx)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after replay: %+v, %v\nwant %+v", got, err, want)
	}
	for i, id := range ids {
		raw, err := db.RawMessage(ctx, id)
		if err != nil || !bytes.Equal(raw, msgs[i].Raw) {
			t.Fatalf("message %d after replay: %d bytes, %v", id, len(raw), err)
		}
	}
	// Replayed once: the messages again are duplicates, and a new one
	// follows the replayed ids.
	if id, err := db.Record(ctx, msgs[3]); !errors.Is(err, store.ErrDuplicate) || id != ids[3] {
		t.Errorf("a replayed message again: %d, %v; want ErrDuplicate of %d", id, err, ids[3])
	}
	next := record(t, db, bounce("new@example.com", "hard", day(2)))
	if next != ids[len(ids)-1]+1 {
		t.Errorf("next id %d, want %d", next, ids[len(ids)-1]+1)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, _ := db.Stats(ctx)
	if again.Messages != want.Messages+1 {
		t.Errorf("opened a third time: %d messages, want %d", again.Messages, want.Messages+1)
	}
}

// A frame cut short by a crash was never acknowledged: Open drops it and
// keeps every whole frame before it. Damage before the end of the last
// segment is an error, not a silent loss.
func TestJournalTornTail(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t, Options{})
	ids := journalOnly(t, db, hardBounces(10, day(1)))
	segs, err := segments(path + ".raw")
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	seg := filepath.Join(path+".raw", segName(segs[0]))
	whole, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Half of one more frame.
	extra := encodeFrame(nil, frameMessage, 11, recordIn{id: 99, at: day(2), head: []byte{1}}, []byte("raw"))
	if err := os.WriteFile(seg, append(bytes.Clone(whole), extra[:len(extra)/2]...), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := db.Stats(ctx)
	if st.Messages != len(ids) {
		t.Errorf("after a torn frame: %d messages, want %d", st.Messages, len(ids))
	}
	if id := record(t, db, bounce("after@example.com", "hard", day(3))); id != ids[len(ids)-1]+1 {
		t.Errorf("next id %d", id)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A new segment that a crash left without its header.
	segs, _ = segments(path + ".raw")
	empty := filepath.Join(path+".raw", segName(segs[len(segs)-1]+1000))
	if err := os.WriteFile(empty, []byte("BS"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("open with a headless last segment: %v", err)
	}
	id := record(t, db, bounce("later@example.com", "hard", day(3)))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RawMessage(ctx, id); err != nil {
		t.Errorf("the message after the headless segment: %v", err)
	}
	db.Close()

	// A flipped byte in a frame in the middle of a segment that later
	// segments follow.
	db, path = openTest(t, Options{})
	segMaxSize = 1024
	defer func() { segMaxSize = segMaxSizeDefault }()
	journalOnly(t, db, hardBounces(30, day(1)))
	segs, _ = segments(path + ".raw")
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	seg = filepath.Join(path+".raw", segName(segs[0]))
	b, _ := os.ReadFile(seg)
	b[segHeaderLen+20] ^= 0xff
	os.WriteFile(seg, b, 0o600)
	if db, err := Open(path, Options{}); !errors.Is(err, ErrDamaged) {
		if err == nil {
			db.Close()
		}
		t.Errorf("open with a damaged frame before the last segment: %v, want ErrDamaged", err)
	}
}

// The retention deletes whole segments once no raw message in them is
// kept, and never one with a message it keeps.
func TestPruneDropsSegments(t *testing.T) {
	ctx := context.Background()
	segMaxSize = 8192
	defer func() { segMaxSize = segMaxSizeDefault }()
	db, path := openTest(t, Options{})
	msgs := hardBounces(200, day(1)) // a minute apart
	var ids []uint64
	for _, m := range msgs {
		ids = append(ids, record(t, db, m))
	}
	before, _ := segments(path + ".raw")
	cutoff := msgs[120].Received
	st, err := db.Prune(ctx, store.Retention{RawMessages: time.Hour}, cutoff.Add(time.Hour))
	if err != nil || st.RawMessages != 120 {
		t.Fatalf("prune: %+v, %v", st, err)
	}
	after, _ := segments(path + ".raw")
	if len(after) >= len(before) || len(after) == 0 {
		t.Errorf("segments: %d before the prune, %d after", len(before), len(after))
	}
	for i, id := range ids {
		raw, err := db.RawMessage(ctx, id)
		switch {
		case i < 120 && !errors.Is(err, store.ErrPruned):
			t.Fatalf("message %d, pruned: %v", id, err)
		case i >= 120 && (err != nil || !bytes.Equal(raw, msgs[i].Raw)):
			t.Fatalf("message %d, kept: %v", id, err)
		}
	}
	got, _ := db.Stats(ctx)
	var kept int64
	for _, m := range msgs[120:] {
		kept += int64(len(m.Raw))
	}
	if got.RawBytes != kept {
		t.Errorf("raw bytes %d, want %d", got.RawBytes, kept)
	}
}

// A directory of another store's segments is refused, not applied.
func TestForeignSegmentsRefused(t *testing.T) {
	a, pathA := openTest(t, Options{})
	journalOnly(t, a, hardBounces(3, day(1)))
	b, pathB := openTest(t, Options{})
	record(t, b, bounce("b@example.com", "hard", day(1)))
	b.Close()
	os.RemoveAll(pathB + ".raw")
	if err := os.Rename(pathA+".raw", pathB+".raw"); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(pathB, Options{}); err == nil || !errors.Is(err, errForeignSegment) {
		if err == nil {
			db.Close()
		}
		t.Errorf("open beside another store's segments: %v", err)
	}
}

// A backup holds the raw messages: restored alone, with no segments beside
// it, every message reads.
func TestBackupHoldsRawMessages(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t, Options{})
	msgs := hardBounces(20, day(1))
	var ids []uint64
	for _, m := range msgs {
		ids = append(ids, record(t, db, m))
	}
	restored := filepath.Join(t.TempDir(), "restored.db")
	f, err := os.Create(restored)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, func(int64) io.Writer { return f }); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := Open(restored, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, id := range ids {
		raw, err := r.RawMessage(ctx, id)
		if err != nil || !bytes.Equal(raw, msgs[i].Raw) {
			t.Fatalf("restored message %d: %v", id, err)
		}
	}
	if id := record(t, r, bounce("new@example.com", "hard", day(2))); id != ids[len(ids)-1]+1 {
		t.Errorf("restored store's next id %d", id)
	}
}

// A segment holds at most a day of messages, so that the retention keeps
// at most a day's raw messages past their time.
func TestSegmentsRollDaily(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t, Options{})
	for d := range 5 {
		for i := range 3 {
			record(t, db, bounce(fmt.Sprintf("u%d@example.com", i), "soft", day(float64(d)+float64(i)/10)))
		}
	}
	segs, _ := segments(path + ".raw")
	if len(segs) != 5 {
		t.Errorf("%d segments for 5 days, want 5", len(segs))
	}
	if _, err := db.Prune(ctx, store.Retention{RawMessages: 48 * time.Hour}, day(5)); err != nil {
		t.Fatal(err)
	}
	if segs, _ := segments(path + ".raw"); len(segs) != 2 {
		t.Errorf("%d segments after keeping 2 days of 5, want 2", len(segs))
	}
}

// A frame's payload, however damaged, decodes or fails: it never panics,
// and a frame that encodeFrame wrote decodes to what it wrote.
func FuzzDecodeFrame(f *testing.F) {
	_, _, frame := sampleFrame(f)
	f.Add(frame[frameHeadLen:])
	f.Add(encodeFrame(nil, frameDupNote, 4, recordIn{id: 7, at: day(1)}, nil)[frameHeadLen:])
	f.Fuzz(func(t *testing.T, p []byte) {
		fr, err := decodeFrame(p, 1, 0)
		if err != nil {
			return
		}
		again, err := decodeFrame(bytes.Clone(p), 1, 0)
		if err != nil || again.seq != fr.seq || again.in.id != fr.in.id || !bytes.Equal(again.in.head, fr.in.head) {
			t.Fatalf("decoding twice: %v", err)
		}
	})
}

// sampleFrame returns a message, what the journal records of it, and the
// frame it writes for it (sequence number 3, message 7).
func sampleFrame(tb testing.TB) (store.Message, recordIn, []byte) {
	m := hardBounces(1, day(1))[0]
	head, targets, err := prepareHead(messageRecord{Received: m.Received, RawSize: len(m.Raw)}, m.Observations)
	if err != nil {
		tb.Fatal(err)
	}
	in := recordIn{id: 7, now: day(2), at: m.Received.UTC(), head: head, rawSize: len(m.Raw), targets: targets, digest: m.Digest}
	body := (&DB{}).compress(*frameBody(new([]byte), head, m.Raw))
	return m, in, encodeFrame(nil, frameMessage, 3, in, body)
}

func TestFrameRoundTrip(t *testing.T) {
	m, in, frame := sampleFrame(t)
	head, targets := in.head, in.targets
	fr, err := decodeFrame(frame[frameHeadLen:], 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fr.seq != 3 || fr.in.id != 7 || !fr.in.at.Equal(in.at) || !fr.in.now.Equal(in.now) || fr.in.rawSize != len(m.Raw) ||
		!bytes.Equal(fr.in.head, head) || !bytes.Equal(fr.in.digest, m.Digest) || len(fr.in.targets) != len(targets) {
		t.Errorf("decoded %+v", fr)
	}
	_, raw, _, err := splitFrame(frame[frameHeadLen:])
	if err != nil || !bytes.Equal(raw, m.Raw) {
		t.Errorf("raw bytes: %v", err)
	}
}

// A segment file deleted by hand: its messages read as pruned, the rest of
// the store as before, and a backup leaves them out.
func TestSegmentGone(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t, Options{})
	var ids []uint64
	for d := range 3 {
		ids = append(ids, record(t, db, bounce(fmt.Sprintf("u%d@example.com", d), "soft", day(float64(d)))))
	}
	segs, _ := segments(path + ".raw")
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	if err := os.Remove(filepath.Join(path+".raw", segName(segs[0]))); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RawMessage(ctx, ids[0]); !errors.Is(err, store.ErrPruned) {
		t.Errorf("a message of the deleted segment: %v, want ErrPruned", err)
	}
	if _, err := db.RawMessage(ctx, ids[1]); err != nil {
		t.Errorf("a message of another segment: %v", err)
	}
	page, err := db.Messages(ctx, 0, 10)
	if err != nil || len(page) != 3 || !page[0].RawPruned || page[1].RawPruned {
		t.Fatalf("messages: %d, %v", len(page), err)
	}
	var buf bytes.Buffer
	if err := db.Backup(ctx, func(int64) io.Writer { return &buf }); err != nil {
		t.Fatalf("backup with a segment gone: %v", err)
	}
}
