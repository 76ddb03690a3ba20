package main

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/store"
)

// lostReply commits a message, then fails as if the process had died
// between the commit and the 250: the client sees 451 and sends the
// message again.
type lostReply struct {
	store.Writer
	lose atomic.Int32 // replies still to lose
}

func (w *lostReply) Record(ctx context.Context, m store.Message) (uint64, error) {
	id, err := w.Writer.Record(ctx, m)
	if err == nil && w.lose.Add(-1) >= 0 {
		return 0, errors.New("killed before the reply")
	}
	return id, err
}

// A bounce whose 250 was lost counts once when the MTA sends it again,
// even though the first copy was committed.
func TestRetransmissionAfterLostReplyCountsOnce(t *testing.T) {
	lr := &lostReply{}
	lr.lose.Store(1)
	ts := startServer(t, testConfig(t), runOptions{WrapWriter: func(w store.Writer) store.Writer { lr.Writer = w; return lr }})
	const alice = "alice@example.org"
	msg := fixture(t, userUnknown, "", "")
	c := dialSMTP(t, ts.smtp)
	wantSMTPError(t, send(c, "", returnPath(alice), msg), 451, smtp.EnhancedCode{4, 3, 0})
	bounce(t, ts, returnPath(alice), msg) // the retry
	if _, ok := suppressed(t, ts, alice); ok {
		t.Fatal("one bounce, committed and then retried, suppressed the address (two hard bounces)")
	}
	got := recipient(t, ts, alice)
	if got.Recipient.Counts["hard"] != 1 || len(got.Events) != 1 {
		t.Errorf("counts %v, %d events; want one hard bounce", got.Recipient.Counts, len(got.Events))
	}
	var st store.Stats
	getJSON(t, ts.http+"/v1/stats", &st)
	if st.Messages != 1 || st.Duplicates != 1 {
		t.Errorf("stats: %d messages, %d duplicates; want 1 and 1", st.Messages, st.Duplicates)
	}
}

// Without signing, a bounce from an ordinary sender (not <>) is shown but
// suppresses no one; from <> it counts.
func TestBounceFromARealSenderDoesNotSuppress(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	const alice = "alice@example.org"
	for i, msg := range [][]byte{fixture(t, userUnknown, "", ""), fixture(t, userUnknown2, "", "")} {
		c := dialSMTP(t, ts.smtp)
		if err := send(c, "mallory@evil.example", returnPath(alice), nth(msg, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := suppressed(t, ts, alice); ok {
		t.Error("two hard bounces from mallory@evil.example suppressed the address")
	}
	got := recipient(t, ts, alice)
	if got.Recipient.Counts["hard"] != 2 || len(got.Events) != 2 {
		t.Errorf("counts %v, %d events; want both kept and counted as evidence", got.Recipient.Counts, len(got.Events))
	}
	// The same two from <> suppress.
	bounce(t, ts, returnPath(alice), fixture(t, userUnknown, "", ""))
	bounce(t, ts, returnPath(alice), fixture(t, userUnknown2, "", ""))
	if _, ok := suppressed(t, ts, alice); !ok {
		t.Error("two hard bounces from <> did not suppress")
	}
}

// The return path outranks the text: a plain line naming a victim in a
// bounce to alice's VERP return path penalises alice (whom we wrote to),
// never the victim.
func TestVERPTagOutranksTheText(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	const alice, victim = "alice@example.org", "victim@example.com"
	for i := range 2 {
		body := "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
			"Message-Id: <" + string(rune('a'+i)) + "@mx.example.net>\r\n\r\n" +
			"This is the mail system at host mx.example.net.\r\n\r\n550 5.1.1 <" + victim + "> user unknown\r\n"
		bounce(t, ts, returnPath(alice), []byte(body))
	}
	if code := getJSON(t, ts.http+"/v1/recipients/"+victim, nil); code != 404 {
		t.Errorf("GET /v1/recipients/%s = %d, want 404: the text's address was penalised", victim, code)
	}
	got := recipient(t, ts, alice)
	if got.Recipient.Counts["hard"] != 2 {
		t.Errorf("%s: counts %v, want the two hard bounces", alice, got.Recipient.Counts)
	}
}

// Past store.max_raw_bytes, messages are refused with 452 4.3.1 and the
// store keeps nothing of them.
func TestRawQuotaEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	msg := fixture(t, userUnknown, "", "")
	cfg.Store.MaxRawBytes = int64(len(msg) + len(msg)/2)
	ts := startServer(t, cfg, runOptions{})
	bounce(t, ts, returnPath("alice@example.org"), msg)
	c := dialSMTP(t, ts.smtp)
	se := wantSMTPError(t, send(c, "", returnPath("bob@example.org"), fixture(t, userUnknown, "alice@example.org", "bob@example.org")),
		452, smtp.EnhancedCode{4, 3, 1})
	if !bytes.Contains([]byte(se.Message), []byte("quota")) {
		t.Errorf("reply %q does not say why", se.Message)
	}
	if code := getJSON(t, ts.http+"/v1/recipients/bob@example.org", nil); code != 404 {
		t.Errorf("the refused message was recorded (%d)", code)
	}
}
