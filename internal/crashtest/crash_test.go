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

// engine is what the crash test needs to know of a store engine.
type engine struct {
	name  string
	kills int      // default number of kills (BOUNCESINK_CRASH_KILLS overrides it)
	serve []string // the arguments of bouncesink serve that name the store
	// window is how long after a server listens the kill may come (at a
	// random moment from 20 ms on), unless it comes during start-up.
	window time.Duration
	// open opens the store for the checks, between two runs of the
	// server; checkStore closes it.
	open func(ctx context.Context) (store.Store, error)
	// settle, if set, waits until nothing the killed server began can
	// still change the store (its database sessions are gone).
	settle func(ctx context.Context) error
	// afterServer, if set, says the store cannot be opened for a check
	// before a server has once started: opening it would create what a
	// server's start-up must create (the schema).
	afterServer bool
	// final, if set, checks what the engine alone can check, at the end.
	final func(t *testing.T)
}

// TestCrashLosesNothing kills bouncesink with SIGKILL at random moments
// under SMTP load, restarting it each time, then checks the database. A
// kill lands sometimes during start-up, mostly while messages are being
// received, classified and committed.
func TestCrashLosesNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "bouncesink.db")
	crash(t, dir, engine{
		name:   "bbolt",
		kills:  30,
		serve:  []string{"--db", db},
		window: 300 * time.Millisecond,
		open: func(context.Context) (store.Store, error) {
			return boltstore.Open(db, boltstore.Options{})
		},
		final: func(t *testing.T) { checkBolt(t, db) },
	})
}

// crash is the test on one engine: the load, the kills, the checks after
// each kill and at the end. dir holds the binary and the server's log.
func crash(t *testing.T, dir string, eng engine) {
	kills := envInt(t, "BOUNCESINK_CRASH_KILLS", eng.kills)
	conns := envInt(t, "BOUNCESINK_CRASH_CONNS", 8)
	if testing.Short() {
		kills = min(kills, 8)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("engine=%s kills=%d conns=%d seed=%d", eng.name, kills, conns, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	bin := testbin.Bouncesink(t, dir)
	logs, err := newTail(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("last lines of the server log:\n%s", logs)
		}
	}()
	check := func(attempts []attempt, full bool) error {
		ctx := context.Background()
		if eng.settle != nil {
			if err := eng.settle(ctx); err != nil {
				t.Fatal(err)
			}
		}
		db, err := eng.open(ctx)
		if err != nil {
			t.Fatalf("store open after the crashes: %v", err)
		}
		return checkStore(t, db, attempts, full)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg, s := newTarget(), &sent{}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { client(ctx, tg, s) })
	}

	var early int
	started := false // a server has once logged its addresses
	for i := range kills {
		srv, err := launch(bin, eng.serve, logs)
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(6) == 0 && i < kills-1 {
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
			time.Sleep(20*time.Millisecond + time.Duration(rng.Int64N(int64(eng.window))))
			// On a machine so loaded that no kill so far let a message
			// through, the last server lives until one is answered (a
			// minute at most), so that the checks below test something.
			for deadline := time.Now().Add(time.Minute); i == kills-1 && !s.acked() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if err := srv.diedOnItsOwn(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		srv.kill()
		tg.clear()
		select {
		case <-srv.ready: // closed before exited, if it ever was
			started = true
		default:
		}
		if eng.afterServer && !started {
			continue // no server listened yet: nothing was sent
		}
		// Between two runs nothing writes: what the kill left must be
		// whole, and every recipient counted once per message naming it.
		if err := check(s.snapshot(), false); err != nil {
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
	t.Logf("%s: %d kills (%d during start-up), %d messages sent, %d answered 250; %d sent again after a lost reply (%d of them then answered 250)",
		eng.name, kills, early, len(s.attempts), acked, resent, resentAcked)
	if acked == 0 {
		t.Fatal("no message was ever acknowledged: the test proved nothing")
	}
	if eng.final != nil {
		eng.final(t)
	}
	if err := check(s.attempts, true); err != nil {
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
// number of distinct messages naming it; the audit trail has one entry per
// suppression, numbered without a gap. With full it also compares each
// message's bytes with those sent, and logs what it found. It closes db.
func checkStore(t *testing.T, db store.Store, attempts []attempt, full bool) error {
	t.Helper()
	ctx := context.Background()
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
	suppressedBy := map[string]uint64{} // address: the message that suppressed it
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
			suppressedBy[a.rcpt] = m.ID
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
	// The audit trail: one entry per suppression, by the policy, citing
	// the message that made it, numbered 1, 2, 3... without a gap (a
	// number taken by a transaction the kill rolled back is not skipped).
	var audited int
	entered := map[string]uint64{} // address: its audit entry
	for after := uint64(0); ; {
		page, err := db.AuditAfter(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			audited++
			if e.Seq != uint64(audited) {
				fail("audit entry %d has number %d, want %d: the trail has a gap or repeats", audited, e.Seq, audited)
			}
			id, ok := suppressedBy[e.Address]
			switch {
			case entered[e.Address] != 0:
				fail("audit entries %d and %d both for %s, suppressed once", entered[e.Address], e.Seq, e.Address)
			case !ok:
				fail("audit entry %d (%s by %s) for %s, which no stored complaint suppressed", e.Seq, e.Action, e.Actor, e.Address)
			case e.Action != "suppress" || e.Actor != "policy" || e.MessageID != id:
				fail("audit entry %d for %s: %s by %s citing message %d, want suppress by policy citing message %d", e.Seq, e.Address, e.Action, e.Actor, e.MessageID, id)
			}
			entered[e.Address] = e.Seq
		}
		after = page[len(page)-1].Seq
	}
	for addr := range suppressedBy {
		if entered[addr] != 0 {
			continue
		}
		fail("%s suppressed without an entry in the audit trail", addr)
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
