package crashtest

import (
	"bytes"
	"context"
	"errors"
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
	}
	cancel()
	wg.Wait()

	var acked int
	for _, a := range s.attempts {
		if a.acked {
			acked++
		}
	}
	t.Logf("%d kills (%d during start-up), %d messages sent, %d answered 250", kills, early, len(s.attempts), acked)
	if acked == 0 {
		t.Fatal("no message was ever acknowledged: the test proved nothing")
	}
	checkBolt(t, db)
	checkStore(t, db, s.attempts)
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
// is stored with its verdict; each other one is either wholly there
// (committed, then killed before the reply) or wholly absent; the
// counters agree with what is there.
func checkStore(t *testing.T, path string, attempts []attempt) {
	t.Helper()
	ctx := context.Background()
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("store open after the crashes: %v", err)
	}
	defer db.Close()

	byRcpt := map[string][]store.StoredMessage{} // by RCPT TO
	var nmsg int
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
			if len(m.EnvelopeTo) != 1 {
				t.Errorf("message %d: envelope to %q, want the one RCPT sent", m.ID, m.EnvelopeTo)
				continue
			}
			byRcpt[m.EnvelopeTo[0]] = append(byRcpt[m.EnvelopeTo[0]], m)
		}
		after = page[len(page)-1].ID
	}

	var present, unackedPresent, suppressed, errs int
	fail := func(format string, args ...any) {
		errs++
		if errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	known := map[string]bool{}
	for id, a := range attempts {
		known[a.verp] = true
		msgs := byRcpt[a.verp]
		r, events, rerr := db.Recipient(ctx, a.rcpt)
		_, serr := db.Suppression(ctx, a.rcpt)
		switch {
		case len(msgs) > 1:
			fail("%s: stored %d times, sent once", a.rcpt, len(msgs))
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
			fail("%s: events %+v, want one %s event from message %d", a.rcpt, events, a.kind.Class(), m.ID)
		}
		total := 0
		for _, n := range r.Counts {
			total += n
		}
		if total != 1 || r.Counts[a.kind.Class()] != 1 {
			fail("%s: counts %v, want one %s", a.rcpt, r.Counts, a.kind.Class())
		}
		if len(m.Observations) != 1 || m.Observations[0].Recipient != a.rcpt {
			fail("%s: message %d observations %+v, want one for it", a.rcpt, m.ID, m.Observations)
		}
		wantSupp := a.kind == bouncegen.Complaint
		if gotSupp := serr == nil; gotSupp != wantSupp || r.Suppressed != wantSupp {
			fail("%s (%s): suppressed %v (record says %v), want %v", a.rcpt, a.kind, gotSupp, r.Suppressed, wantSupp)
		}
		if wantSupp {
			suppressed++
		}
		if !bytes.Equal(crlf(m.Raw), crlf(message(id, a))) {
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
	want := store.Stats{Messages: present, Recipients: present, Events: present, Suppressed: suppressed}
	if st.Messages != want.Messages || st.Recipients != want.Recipients || st.Events != want.Events ||
		st.Suppressed != want.Suppressed || st.SuppressedByReason["complaint"] != suppressed || nmsg != present {
		fail("stats %+v (messages listed: %d), want %+v with all suppressions for complaints", st, nmsg, want)
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
	t.Logf("store: %d messages (%d of them committed but killed before the 250), %d suppressed", present, unackedPresent, suppressed)
	if errs > 20 {
		t.Errorf("... %d failures in all", errs)
	}
}

// crlf normalises line ends, so bytes compare whatever the server kept.
func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }
