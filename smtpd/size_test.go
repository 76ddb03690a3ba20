package smtpd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// sized returns a message of exactly n octets as RFC 1870 counts them
// (after dot-unstuffing, CRLFs included), with a line that starts with a
// dot, which the client doubles on the wire and the count does not see.
func sized(n int) []byte {
	var b strings.Builder
	b.WriteString("Subject: sized\r\n\r\n.dotted\r\n")
	for b.Len()+72 < n {
		b.WriteString(strings.Repeat("x", 70) + "\r\n")
	}
	b.WriteString(strings.Repeat("y", n-b.Len()-2) + "\r\n")
	return []byte(b.String())
}

// The EHLO reply advertises SIZE max_message_bytes: a message of exactly
// that size is stored, by DATA and by BDAT alike, and one octet more is
// refused with 552 5.3.4 (a session that stays usable). go-smtp's DATA
// reader alone refused the message of exactly the limit.
func TestMessageOfExactlyTheLimit(t *testing.T) {
	const limit = 4096
	m := &memory{}
	opts := returnPaths
	opts.MaxMessageBytes = limit
	_, addr := start(t, m, opts)

	c := rawDial(t, addr)
	defer c.Close()
	c.send(t, "EHLO mta.example.net\r\n")
	var ehlo []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		ehlo = append(ehlo, strings.TrimSpace(line))
		if line[3] == ' ' {
			break
		}
	}
	if !strings.Contains(strings.Join(ehlo, "\n"), fmt.Sprintf("250-SIZE %d", limit)) {
		t.Fatalf("EHLO reply %q does not advertise SIZE %d", ehlo, limit)
	}

	for _, size := range []int{limit - 1, limit, limit + 1, limit + 2} {
		body := sized(size)
		want := size <= limit

		// DATA, through go-smtp's client (which dot-stuffs), declaring the size.
		sc := dial(t, addr)
		before := m.count()
		err := sc.Mail("", &smtp.MailOptions{Size: int64(size)})
		if size > limit {
			// MAIL refuses a declared size over the limit; send it undeclared.
			wantCode(t, err, 552, smtp.EnhancedCode{5, 3, 4})
			err = sc.Mail("", nil)
		}
		if err != nil {
			t.Fatalf("DATA of %d octets: MAIL: %v", size, err)
		}
		if err := sc.Rcpt("bounces@news.example.com", nil); err != nil {
			t.Fatal(err)
		}
		w, err := sc.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
		err = w.Close()
		checkSized(t, "DATA", size, want, err, m, before, body)
		// The session goes on either way.
		if err := sc.Noop(); err != nil {
			t.Fatalf("DATA of %d octets: NOOP after it: %v", size, err)
		}

		// BDAT, in two chunks, on the one connection (see TestBDATAfterAbortedBDAT).
		before = m.count()
		c.cmd(t, "MAIL FROM:<>", "250")
		c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
		half := len(body) / 2
		c.send(t, fmt.Sprintf("BDAT %d\r\n%s", half, body[:half]))
		if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250 ") {
			t.Fatalf("BDAT of %d octets: first chunk %q, %v", size, line, err)
		}
		c.send(t, fmt.Sprintf("BDAT %d LAST\r\n%s", len(body)-half, body[half:]))
		line, err := c.reply()
		if err != nil {
			t.Fatal(err)
		}
		var bdatErr error
		if !strings.HasPrefix(line, "250 ") {
			bdatErr = fmt.Errorf("%s", line)
			if !strings.HasPrefix(line, "552 5.3.4 ") {
				t.Errorf("BDAT of %d octets: %q, want 250 or 552 5.3.4", size, line)
			}
		}
		checkSized(t, "BDAT", size, want, bdatErr, m, before, body)
	}
}

func checkSized(t *testing.T, how string, size int, want bool, err error, m *memory, before int, body []byte) {
	t.Helper()
	if !want {
		if err == nil {
			t.Errorf("%s of %d octets: stored, want 552 5.3.4", how, size)
		} else if se, ok := err.(*smtp.SMTPError); ok && (se.Code != 552 || se.EnhancedCode != (smtp.EnhancedCode{5, 3, 4})) {
			t.Errorf("%s of %d octets: %v, want 552 5.3.4", how, size, err)
		}
		if m.count() != before {
			t.Errorf("%s of %d octets: delivered though refused", how, size)
		}
		return
	}
	if err != nil {
		t.Errorf("%s of %d octets (the limit or less): %v, want it stored", how, size, err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.raws) != before+1 || !bytes.Equal(m.raws[before], body) {
		t.Errorf("%s of %d octets: delivered %d messages, want this one as sent", how, size, len(m.raws)-before)
	}
}
