package peertest

import (
	"bytes"
	"fmt"
	"net/mail"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// returnPath is the VERP return path the newsletter uses for rcpt.
func returnPath(rcpt string) string {
	return "bounces+" + strings.Replace(rcpt, "@", "=", 1) + "@" + sinkDomain
}

// extra is a recipient an MTA fails by itself, with no reply from the MX.
type extra struct {
	rcpt, class string
	text        string // in the diagnostic
}

// TestMTABounces sends newsletters through real MTAs (Debian's Exim,
// Postfix, OpenSMTPD and Sendmail, side by side) to a fake recipient MX
// that answers each recipient domain with a reply from the seeds' tables
// (cases), so that each MTA writes its own bounces, delay warnings and
// final reports, and delivers them to the bouncesink binary over SMTP.
// Then it asks the sink's API what it made of each: every bounce must
// name its recipient and have the class the reply means.
//
// The MTAs run at once, their queue lifetimes overlapping, and are
// checked one by one once all are done.
func TestMTABounces(t *testing.T) {
	mx := startMX(t)
	s := startSink(t, t.TempDir())
	start := time.Now()
	var runs []*run
	for _, st := range []struct {
		name  string
		start func(t *testing.T, mxPort, sinkAddr string) (*mta, string)
	}{
		{"exim", startExim},
		{"postfix", startPostfix},
		{"opensmtpd", startOpenSMTPD},
		{"sendmail", startSendmail},
	} {
		m, missing := st.start(t, mx.port, s.smtp)
		r := &run{name: st.name, m: m, missing: missing}
		if m != nil {
			r.submit(t)
		}
		runs = append(runs, r)
	}
	waitForBounces(t, s, runs)
	t.Logf("sent and waited in %v", time.Since(start).Round(time.Second))
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			if r.missing != "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s in CI: .ci/run should have set it up", r.missing)
				}
				t.Skipf("%s; skipping the test against a real %s", r.missing, r.name)
			}
			wrong := r.check(t, mx, s)
			t.Logf("%s: %d/%d cases right %s", r.name, len(cases)-len(wrong), len(cases), strings.Join(wrong, " "))
		})
	}
}

// run is one MTA's part of the test: the newsletters sent through it
// and the bounces the sink must then hold.
type run struct {
	name    string
	m       *mta   // nil if missing
	missing string // why the MTA cannot run here
	// expect is how many reports the sink must hold per recipient.
	expect            map[string]int
	unknown, full, ok string // the mixed list's recipients
}

// rcpt is the MTA's recipient of cases[i].
func (r *run) rcpt(i int) string { return r.name + "@" + caseDomain(i) }

// submit sends one newsletter per case (more where the case says), a
// message to the mixed list, and one to each of the MTA's extras.
func (r *run) submit(t *testing.T) {
	r.expect = map[string]int{}
	for i, c := range cases {
		for range c.nsends() {
			submit(t, r.m, returnPath(r.rcpt(i)), []string{r.rcpt(i)})
		}
		r.expect[r.rcpt(i)] = c.nsends()
		if c.temporary() {
			r.expect[r.rcpt(i)] *= 2
		}
	}
	// One message to three recipients with a plain return path: the MTA
	// writes one bounce that names the two it could not deliver, and the
	// sink must attribute each failure from the report alone.
	r.unknown, r.full, r.ok = r.name+"-unknown@"+listDomain, r.name+"-full@"+listDomain, r.name+"-ok@"+listDomain
	submit(t, r.m, "bounces@"+sinkDomain, []string{r.unknown, r.full, r.ok})
	r.expect[r.unknown], r.expect[r.full] = 1, 1
	for _, x := range r.m.extra {
		submit(t, r.m, returnPath(x.rcpt), []string{x.rcpt})
		r.expect[x.rcpt] = 1
	}
}

// waitForBounces waits until the sink holds every report each run
// expects and every MTA's queue is empty: the queue lifetime, then a
// queue run or two; generous, since the machine may be busy.
func waitForBounces(t *testing.T, s *sink, runs []*run) {
	deadline := time.Now().Add(lifetime + 150*time.Second)
	for {
		var waiting []string
		for _, r := range runs {
			if r.m == nil {
				continue
			}
			short := 0
			for rcpt, n := range r.expect {
				if got, _ := s.recipient(t, rcpt); len(got.Events) < n {
					short++
				}
			}
			queued, err := r.m.queued()
			if err != nil {
				t.Fatalf("%s's queue: %v", r.name, err)
			}
			if short > 0 || queued > 0 {
				waiting = append(waiting, fmt.Sprintf("%s (%d messages queued, %d recipients short of reports)", r.name, queued, short))
			}
		}
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("gave up waiting for %s", strings.Join(waiting, ", "))
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// check checks every recipient of the run, and returns the seeds of the
// cases the MTA's reports were classified wrong for.
func (r *run) check(t *testing.T, mx *fakeMX, s *sink) (wrong []string) {
	m := r.m
	for i, c := range cases {
		if !checkCase(t, m, s, r.rcpt(i), c) {
			wrong = append(wrong, c.seed)
		}
	}
	t.Run("list", func(t *testing.T) {
		checkRecipient(t, m, s, r.unknown, 1, 0, []string{"hard"}, []string{"user_unknown"}, []string{"User unknown"}, false)
		checkRecipient(t, m, s, r.full, 1, 0, []string{"soft"}, []string{"mailbox_full"}, []string{"over quota"}, false)
		if msg := mx.message(r.ok); !bytes.Contains(msg, []byte("this is the newsletter")) {
			t.Errorf("the MX received %q for %s, want the newsletter", msg, r.ok)
		}
		if got, found := s.recipient(t, r.ok); found {
			t.Errorf("%s was delivered, yet the sink recorded %+v", r.ok, got)
		}
	})
	for _, x := range m.extra {
		t.Run(x.rcpt, func(t *testing.T) {
			checkRecipient(t, m, s, x.rcpt, 1, 0, []string{x.class}, nil, []string{x.text}, false)
		})
	}
	if t.Failed() {
		t.Logf("%s's logs:\n%s", m.name, m.logs())
	}
	return wrong
}

// checkCase checks the bounces for c's recipient in a subtest named
// after its seed row, and reports whether they were right.
func checkCase(t *testing.T, m *mta, s *sink, rcpt string, c replyCase) bool {
	return t.Run(c.seed, func(t *testing.T) {
		text := []string{c.text(rcpt)}
		warnings := 0
		if c.temporary() {
			warnings = c.nsends()
			if m.expiredText != "" {
				text = append(text, m.expiredText)
			}
		}
		classes := []string{c.class}
		if c.also != "" {
			classes = append(classes, c.also)
		}
		checkRecipient(t, m, s, rcpt, c.nsends(), warnings, classes, c.reasons, text, c.suppressed)
	})
}

// checkRecipient asks the sink's API for rcpt: it must hold warnings
// delay warnings (class delayed) and failures reports of a class in
// classes (and a reason in reasons, unless nil), each recorded for rcpt
// from a bounce m wrote that names rcpt, each diagnostic holding one of
// texts (the reply the MX gave, or what the MTA wrote in its place); and
// rcpt must be suppressed or not.
func checkRecipient(t *testing.T, m *mta, s *sink, rcpt string, failures, warnings int, classes, reasons, texts []string, suppressed bool) {
	t.Helper()
	r, found := s.recipient(t, rcpt)
	if !found {
		t.Errorf("GET /v1/recipients/%s: 404, want %d bounce(s) from %s", rcpt, failures+warnings, m.name)
		return
	}
	gotWarnings, gotFailures := 0, 0
	for _, ev := range r.Events {
		raw := s.rawMessage(t, ev.MessageID)
		var bad []string
		if ev.Recipient != rcpt {
			bad = append(bad, "recipient "+ev.Recipient)
		}
		if ev.Class == "delayed" {
			gotWarnings++
		} else {
			gotFailures++
			if !slices.Contains(classes, ev.Class) {
				bad = append(bad, fmt.Sprintf("class %s, want %s", ev.Class, strings.Join(classes, " or ")))
			}
			if reasons != nil && !slices.Contains(reasons, ev.Reason) {
				bad = append(bad, fmt.Sprintf("reason %s, want %s", ev.Reason, strings.Join(reasons, " or ")))
			}
		}
		if !slices.ContainsFunc(texts, func(text string) bool { return containsFolded(ev.Diagnostic, leading(text)) }) {
			bad = append(bad, fmt.Sprintf("diagnostic %q lacks %q", ev.Diagnostic, texts))
		}
		if why := m.wrote(raw); why != "" {
			bad = append(bad, fmt.Sprintf("not %s's bounce (%s)", m.name, why))
		}
		if from := fromHeader(raw); !strings.Contains(strings.ToLower(from), "mailer-daemon@") {
			bad = append(bad, fmt.Sprintf("from %q, not the mailer daemon", from))
		}
		if !bytes.Contains(bytes.ToLower(raw), []byte(rcpt)) {
			bad = append(bad, "the bounce does not name "+rcpt)
		}
		if len(bad) > 0 {
			t.Errorf("%s: message %d recorded for %s as class %s reason %s status %s (decoder %s, rule %s): %s; the bounce:\n%s",
				rcpt, ev.MessageID, ev.Recipient, ev.Class, ev.Reason, ev.Status, ev.Decoder, ev.Rule, strings.Join(bad, "; "), raw)
		}
	}
	if gotWarnings != warnings || gotFailures != failures {
		t.Errorf("%s: %d delay warnings and %d failures, want %d and %d: %+v", rcpt, gotWarnings, gotFailures, warnings, failures, r.Events)
	}
	if r.Recipient.Suppressed != suppressed {
		t.Errorf("%s: suppressed = %v after %d failure(s) of class %s, want %v", rcpt, r.Recipient.Suppressed, failures, classes[0], suppressed)
	}
}

// fromHeader returns raw's From header field.
func fromHeader(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return m.Header.Get("From")
}

// leading is the start of a reply, what every MTA quotes of it: Exim cuts
// a long reply short in its delay warnings.
func leading(reply string) string {
	const n = 40
	if len(reply) <= n {
		return reply
	}
	return reply[:n]
}

// containsFolded reports whether s holds sub, ignoring case and how
// whitespace runs (an MTA may fold a long reply).
func containsFolded(s, sub string) bool {
	fold := func(x string) string { return strings.ToLower(strings.Join(strings.Fields(x), " ")) }
	return strings.Contains(fold(s), fold(sub))
}

// submit hands a newsletter for to (envelope sender from) to m over SMTP,
// one connection per message.
func submit(t *testing.T, m *mta, from string, to []string) {
	t.Helper()
	c, err := smtp.Dial(m.submit)
	if err != nil {
		t.Fatalf("%s at %s: %v", m.name, m.submit, err)
	}
	defer c.Close()
	if err := c.Hello("news.example.com"); err != nil {
		t.Fatalf("%s: EHLO: %v", m.name, err)
	}
	if err := c.SendMail(from, to, bytes.NewReader(newsletter(to[0]))); err != nil {
		t.Fatalf("%s: sending to %s: %v\n%s", m.name, to, err, m.logs())
	}
	c.Quit()
}

// newsletter is a message as a mailing list sends it to rcpt.
func newsletter(rcpt string) []byte {
	now := time.Now()
	return fmt.Appendf(nil, "From: Newsletter <news@news.example.com>\r\nTo: <%s>\r\nSubject: Our November news\r\n"+
		"Date: %s\r\nMessage-ID: <%d.%s@news.example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"+
		"Hello,\r\n\r\nthis is the newsletter.\r\n",
		rcpt, now.Format(time.RFC1123Z), now.UnixNano(), strings.ReplaceAll(rcpt, "@", "."))
}
