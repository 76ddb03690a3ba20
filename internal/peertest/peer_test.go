package peertest

import (
	"bytes"
	"net/mail"
	"slices"
	"strings"
	"testing"
)

// verdict is what the sink must have recorded from one Exim bounce. An
// empty field is not checked.
type verdict struct {
	class, reason, status string
	smtpCode              int
	diagnostic            string // a part of the MX's reply, carried through Exim's bounce
}

// returnPath is the VERP return path the newsletter uses for rcpt.
func returnPath(rcpt string) string {
	return "bounces+" + strings.Replace(rcpt, "@", "=", 1) + "@" + sinkDomain
}

// TestEximBounces sends newsletters through Debian's Exim to a fake
// recipient MX that refuses some recipients, so that Exim writes its own
// bounces and delivers them to the bouncesink binary over SMTP; then it
// asks the sink's API what it made of each.
func TestEximBounces(t *testing.T) {
	requireExim(t)
	mx := startMX(t)
	s := startSink(t, t.TempDir())
	e := newExim(t, mx.addr, s.smtp)

	tests := []struct {
		rcpt       string
		sends      int // each send is a newsletter and so a bounce
		want       verdict
		suppressed bool // after all sends
	}{
		// Two hard bounces within 30 days suppress an address.
		{"unknown@example.org", 2, verdict{"hard", "user_unknown", "5.1.1", 550, "User unknown in virtual mailbox table"}, true},
		// A full mailbox is soft even under a 5xx (classify/status.go, X.2.2):
		// two of them suppress nothing.
		{"full@example.org", 2, verdict{"soft", "mailbox_full", "5.2.2", 552, "Mailbox full"}, false},
		// The sender's IP on a blocklist is not the recipient's fault:
		// never suppressed, however often.
		{"blocked@example.org", 2, verdict{"block", "ip_blocklisted", "5.7.1", 554, "blocked using zen.spamhaus.org"}, false},
		// Refused after DATA: Exim says "after pipelined end of data".
		{"spam@example.org", 1, verdict{"block", "spam_content", "5.7.1", 550, "rejected as spam"}, false},
		// A 450 that Exim gives up on: "retry timeout exceeded", the text it
		// writes when a retry schedule runs out, here at once (no retry
		// rules; see eximConf). A message given up after retries is a
		// final failure, soft (LABELING.md), not a delay warning.
		{"greylisted@example.org", 1, verdict{"soft", "expired", "4.2.0", 450, "retry timeout exceeded"}, false},
		// No route to the domain: Exim's own failure, no remote server and
		// no SMTP code ("Unrouteable address", Status 5.0.0). The reason is
		// not checked: the classifier says user_unknown, though with a real
		// dnslookup router this text means the domain does not resolve.
		{"alice@nowhere.example", 1, verdict{class: "hard", status: "5.0.0", diagnostic: "Unrouteable address"}, false},
	}
	for _, tt := range tests {
		for range tt.sends {
			e.send(t, returnPath(tt.rcpt), []string{tt.rcpt}, newsletter(tt.rcpt))
		}
	}
	// One message to three recipients with a plain return path: Exim
	// writes one bounce that names the two it could not deliver, and the
	// sink must attribute each failure from the report alone.
	list := []string{"unknown+list@example.org", "full+list@example.org", "ok+list@example.org"}
	e.send(t, "bounces@"+sinkDomain, list, newsletter("list@example.org"))
	// Delivered: no bounce.
	e.send(t, returnPath("ok@example.org"), []string{"ok@example.org"}, newsletter("ok@example.org"))

	for _, tt := range tests {
		t.Run(tt.rcpt, func(t *testing.T) {
			checkRecipient(t, s, tt.rcpt, tt.sends, tt.want, tt.suppressed)
		})
	}
	t.Run("one bounce for two recipients", func(t *testing.T) {
		checkRecipient(t, s, "unknown+list@example.org", 1, verdict{"hard", "user_unknown", "5.1.1", 550, "User unknown"}, false)
		checkRecipient(t, s, "full+list@example.org", 1, verdict{"soft", "mailbox_full", "5.2.2", 552, "Mailbox full"}, false)
		checkDelivered(t, s, mx, "ok+list@example.org")
	})
	t.Run("delivered", func(t *testing.T) {
		checkDelivered(t, s, mx, "ok@example.org")
	})
	if t.Failed() {
		t.Logf("Exim's logs:\n%s", e.logs())
	}
}

// checkRecipient asks the sink's API for rcpt: it must have one event per
// bounce, each with the verdict want, from a message that Exim wrote.
func checkRecipient(t *testing.T, s *sink, rcpt string, n int, want verdict, suppressed bool) {
	t.Helper()
	r, found := s.recipient(t, rcpt)
	if !found {
		t.Fatalf("GET /v1/recipients/%s: 404, want the %d bounce(s) Exim sent", rcpt, n)
	}
	if len(r.Events) != n {
		t.Errorf("%s: %d events, want %d (one per bounce): %+v", rcpt, len(r.Events), n, r.Events)
	}
	for _, ev := range r.Events {
		raw := s.rawMessage(t, ev.MessageID)
		got := verdict{ev.Class, ev.Reason, ev.Status, ev.SMTPCode, ev.Diagnostic}
		ok := ev.Recipient == rcpt && got.class == want.class &&
			(want.reason == "" || got.reason == want.reason) && got.status == want.status &&
			(want.smtpCode == 0 || got.smtpCode == want.smtpCode) &&
			strings.Contains(got.diagnostic, want.diagnostic)
		if !ok {
			t.Errorf("%s: message %d recorded for %s as %+v (decoder %s, rule %s), want %+v; the bounce:\n%s",
				rcpt, ev.MessageID, ev.Recipient, got, ev.Decoder, ev.Rule, want, raw)
		}
		checkFromExim(t, raw, rcpt)
	}
	if r.Recipient.Suppressed != suppressed {
		t.Errorf("%s: suppressed = %v after %d bounce(s) of class %s, want %v", rcpt, r.Recipient.Suppressed, n, want.class, suppressed)
	}
}

// checkFromExim fails unless raw is a bounce written by Exim (its subject,
// its X-Failed-Recipients header, its Received line, a multipart/report)
// that names rcpt.
func checkFromExim(t *testing.T, raw []byte, rcpt string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("stored message for %s: %v:\n%s", rcpt, err, raw)
		return
	}
	var failed []string
	for a := range strings.SplitSeq(m.Header.Get("X-Failed-Recipients"), ",") {
		failed = append(failed, strings.TrimSpace(a))
	}
	h := m.Header
	if h.Get("Subject") != "Mail delivery failed: returning message to sender" ||
		!slices.Contains(failed, rcpt) ||
		!strings.Contains(h.Get("Received"), "(Exim ") ||
		!strings.HasPrefix(h.Get("Content-Type"), "multipart/report; report-type=delivery-status") ||
		!bytes.Contains(raw, []byte("This message was created automatically by mail delivery software.")) {
		t.Errorf("stored message for %s does not look like Exim's bounce for it:\n%s", rcpt, raw)
	}
}

// checkDelivered fails unless the MX took the newsletter for rcpt and the
// sink recorded nothing for it.
func checkDelivered(t *testing.T, s *sink, mx *fakeMX, rcpt string) {
	t.Helper()
	if msg := mx.message(rcpt); !bytes.Contains(msg, []byte("this is the newsletter")) {
		t.Errorf("the MX received %q for %s, want the newsletter", msg, rcpt)
	}
	if r, found := s.recipient(t, rcpt); found {
		t.Errorf("%s was delivered, yet the sink recorded %+v", rcpt, r)
	}
}
