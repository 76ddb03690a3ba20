package crashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/internal/testbin"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// envInt reads a positive integer from the environment, or returns def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestCrashLosesNothing kills bouncesink with SIGKILL at random moments
// under SMTP load, restarting it each time, then checks the database. A
// kill lands sometimes during start-up, mostly while messages are being
// received, classified and committed.
func TestCrashLosesNothing(t *testing.T) {
	kills := envInt(t, "BOUNCESINK_CRASH_KILLS", 30)
	conns := envInt(t, "BOUNCESINK_CRASH_CONNS", 8)
	if testing.Short() {
		kills = min(kills, 8)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kills=%d conns=%d seed=%d", kills, conns, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	dir := t.TempDir()
	bin := testbin.Bouncesink(t, dir)
	db := filepath.Join(dir, "bouncesink.db")
	logs, err := newTail(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("last lines of the server log:\n%s", logs)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg, s := newTarget(), &sent{}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { client(ctx, tg, s) })
	}

	var early int
	for i := range kills {
		srv, err := launch(bin, db, logs)
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(6) == 0 {
			// Kill during start-up: opening the database, maybe mid-way.
			early++
			go func() {
				select {
				case <-srv.ready:
					tg.set(srv.smtp)
				case <-srv.exited:
				}
			}()
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		} else {
			select {
			case <-srv.ready:
				tg.set(srv.smtp)
			case <-srv.exited:
				t.Fatalf("round %d: %v", i, srv.diedOnItsOwn())
			case <-time.After(time.Minute):
				srv.kill()
				t.Fatalf("round %d: no %q log line with smtp= and http= addresses within a minute", i, "bouncesink started")
			}
			time.Sleep(time.Duration(20+rng.IntN(300)) * time.Millisecond)
		}
		if err := srv.diedOnItsOwn(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		srv.kill()
		tg.clear()
		// Between two runs nothing writes: what the kill left must be
		// whole, and every recipient counted once per message naming it.
		if err := checkStore(t, db, s.snapshot(), false); err != nil {
			t.Fatalf("after kill %d: %v", i+1, err)
		}
	}
	cancel()
	wg.Wait()

	var acked, resent, resentAcked int
	for _, a := range s.attempts {
		if a.acked {
			acked++
		}
		if a.sends > 1 {
			resent++
			if a.acked {
				resentAcked++
			}
		}
	}
	t.Logf("%d kills (%d during start-up), %d messages sent, %d answered 250; %d sent again after a lost reply (%d of them then answered 250)",
		kills, early, len(s.attempts), acked, resent, resentAcked)
	if acked == 0 {
		t.Fatal("no message was ever acknowledged: the test proved nothing")
	}
	checkBolt(t, db)
	if err := checkStore(t, db, s.attempts, true); err != nil {
		t.Fatal(err)
	}
}

// checkBolt runs bbolt's consistency check (what "bbolt check" does) on
// the file as the last kill left it.
func checkBolt(t *testing.T, path string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bbolt open: %v", err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
}

// checkStore asks the store about every message sent: each answered 250
// is stored once with its verdict; each other one is either wholly there
// (committed, then killed before the reply) or wholly absent; a message
// sent again after a lost reply is stored once and counted once; every
// recipient's counters, the store's and the activity counters equal the
// number of distinct messages naming it. With full it also compares each
// message's bytes with those sent, and logs what it found.
func checkStore(t *testing.T, path string, attempts []attempt, full bool) error {
	t.Helper()
	ctx := context.Background()
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("store open after the crashes: %v", err)
	}
	defer db.Close()

	var problems []error
	fail := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	byRcpt := map[string][]store.StoredMessage{} // by RCPT TO
	var nmsg, duplicates int
	for after := uint64(0); ; {
		page, err := db.Messages(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			nmsg++
			duplicates += m.Duplicates
			if len(m.EnvelopeTo) != 1 {
				fail("message %d: envelope to %q, want the one RCPT sent", m.ID, m.EnvelopeTo)
				continue
			}
			byRcpt[m.EnvelopeTo[0]] = append(byRcpt[m.EnvelopeTo[0]], m)
		}
		after = page[len(page)-1].ID
	}

	var present, unackedPresent, suppressed int
	known := map[string]bool{}
	for id, a := range attempts {
		known[a.verp] = true
		msgs := byRcpt[a.verp]
		r, events, rerr := db.Recipient(ctx, a.rcpt)
		_, serr := db.Suppression(ctx, a.rcpt)
		switch {
		case len(msgs) > 1:
			fail("%s: stored %d times (sent %d times), one message", a.rcpt, len(msgs), a.sends)
			continue
		case len(msgs) == 0 && a.acked:
			fail("%s (message %d, %s): answered 250 but not stored", a.rcpt, id, a.kind)
			continue
		case len(msgs) == 0:
			if !errors.Is(rerr, store.ErrNotFound) || !errors.Is(serr, store.ErrNotFound) {
				fail("%s: no message stored, yet recipient state (err %v) or suppression (err %v): half applied", a.rcpt, rerr, serr)
			}
			continue
		}
		present++
		if !a.acked {
			unackedPresent++
		}
		m := msgs[0]
		if rerr != nil {
			fail("%s: message %d stored without its verdict's recipient state: %v", a.rcpt, m.ID, rerr)
			continue
		}
		if len(events) != 1 || events[0].MessageID != m.ID || events[0].Class != a.kind.Class() {
			fail("%s: events %+v, want one %s event from message %d (sent %d times)", a.rcpt, events, a.kind.Class(), m.ID, a.sends)
		}
		total := 0
		for _, n := range r.Counts {
			total += n
		}
		if total != 1 || r.Counts[a.kind.Class()] != 1 {
			fail("%s: counts %v, want one %s: one message names it (sent %d times)", a.rcpt, r.Counts, a.kind.Class(), a.sends)
		}
		if len(m.Observations) != 1 || m.Observations[0].Recipient != a.rcpt {
			fail("%s: message %d observations %+v, want one for it", a.rcpt, m.ID, m.Observations)
		}
		if m.Duplicates > a.sends-1 {
			fail("%s: message %d has %d duplicates, but was sent only %d times", a.rcpt, m.ID, m.Duplicates, a.sends)
		}
		wantSupp := a.kind == bouncegen.Complaint
		if gotSupp := serr == nil; gotSupp != wantSupp || r.Suppressed != wantSupp {
			fail("%s (%s): suppressed %v (record says %v), want %v", a.rcpt, a.kind, gotSupp, r.Suppressed, wantSupp)
		}
		if wantSupp {
			suppressed++
		}
		if full && !bytes.Equal(crlf(m.Raw), crlf(message(id, a))) {
			fail("%s: message %d raw bytes differ from those sent", a.rcpt, m.ID)
		}
	}
	for rcpt, msgs := range byRcpt {
		if !known[rcpt] {
			fail("stored message %d for %s, which no client sent", msgs[0].ID, rcpt)
		}
	}

	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Stats{Messages: present, Recipients: present, Events: present, Suppressed: suppressed, Duplicates: duplicates}
	if st.Messages != want.Messages || st.Recipients != want.Recipients || st.Events != want.Events || st.Duplicates != want.Duplicates ||
		st.Suppressed != want.Suppressed || st.SuppressedByReason["complaint"] != suppressed || nmsg != present {
		fail("stats %+v (messages listed: %d), want %+v with all suppressions for complaints", st, nmsg, want)
	}
	// The activity counters: every message was received within the hour.
	act, err := db.Activity(ctx, store.ActivityOptions{Days: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range act.Windows {
		if w.Total != present {
			fail("activity window %s counts %d verdicts, want %d, one per message", w.Window, w.Total, present)
		}
	}
	var listed int
	for after := ""; ; {
		page, err := db.Suppressions(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		listed += len(page)
		after = page[len(page)-1].Address
	}
	if listed != suppressed {
		fail("suppression list has %d addresses, want %d", listed, suppressed)
	}
	if full {
		t.Logf("store: %d messages (%d of them committed but killed before the 250), %d suppressed, %d duplicates acknowledged and counted once",
			present, unackedPresent, suppressed, duplicates)
	}
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Errorf("... %d problems in all", len(problems)))
	}
	return errors.Join(problems...)
}

// crlf normalises line ends, so bytes compare whatever the server kept.
func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }
