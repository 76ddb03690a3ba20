package smtpd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

// If a go-smtp upgrade moves the field lines.go changes, bodies would fall
// back to a line limit of max_message_bytes: look at lines.go again.
func TestLineLimitFieldIsFound(t *testing.T) {
	if !lineLimitFieldOK {
		t.Fatal("smtp.Conn has no lineLimitReader.LineLimit and curLineLength: update smtpd/lines.go for this go-smtp")
	}
}

// Body lines are bounded by the message size alone (real bounces quote
// long header lines); command lines by max_line_length, their CRLF not
// counted, also right after a body with long lines.
func TestLineLengths(t *testing.T) {
	m := &memory{}
	opts := returnPaths
	opts.MaxLineLength = 1000
	_, addr := start(t, m, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	for i, n := range []int{999, 1000, 1001, 1999, 2000, 2001, 200_000} {
		body := "Subject: long\r\n\r\n" + strings.Repeat("x", n) + "\r\nend\r\n"
		c.cmd(t, "MAIL FROM:<>", "250")
		c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
		c.cmd(t, "DATA", "354")
		c.send(t, body+".\r\n")
		if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250") {
			t.Fatalf("body line of %d octets: %q, %v; want 250", n, line, err)
		}
		if got := m.raws[i]; !bytes.Equal(got, []byte(body)) {
			t.Fatalf("body line of %d octets: delivered %d bytes, want the %d sent", n, len(got), len(body))
		}
	}
	// NOOP takes any argument: "NOOP " and padding make a line of n octets.
	noop := func(n int) string { return "NOOP " + strings.Repeat("y", n-5) }
	c.cmd(t, noop(1000), "250")
	c.send(t, noop(1001)+"\r\n")
	if got := c.closed(t); len(got) != 1 || !strings.HasPrefix(got[0], "500 5.4.0") {
		t.Errorf("command line of 1001 octets with max_line_length 1000: %q, want 500 5.4.0 and the connection closed", got)
	}

	// The limit is back in force for the command right after a body.
	c = rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	openDataNoEHLO(t, c)
	c.send(t, "Subject: x\r\n\r\n"+strings.Repeat("z", 5000)+"\r\n.\r\n")
	if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250") {
		t.Fatalf("long body: %q, %v", line, err)
	}
	c.send(t, noop(3000)+"\r\n")
	if got := c.closed(t); len(got) != 1 || !strings.HasPrefix(got[0], "500 5.4.0") {
		t.Errorf("long command line after a body: %q, want 500 5.4.0 and the connection closed", got)
	}
}

func openDataNoEHLO(t *testing.T, c *rawClient) {
	t.Helper()
	c.cmd(t, "MAIL FROM:<>", "250")
	c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
	c.cmd(t, "DATA", "354")
}

// Over TLS, go-smtp reads through crypto/tls: a BDAT chunk that stalls is
// still a 421 with our text.
func TestBDATTimeoutOverTLS(t *testing.T) {
	cert, pool := selfSigned(t, "sink.example.com")
	opts := returnPaths
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	opts.IdleTimeout = 300 * time.Millisecond
	m := &memory{}
	_, addr := start(t, m, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	c.cmd(t, "STARTTLS", "220")
	tc := tls.Client(c.Conn, &tls.Config{RootCAs: pool, ServerName: "sink.example.com"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tl := &rawClient{Conn: tc, r: bufio.NewReader(tc)}
	tl.cmd(t, "EHLO mta.example.net", "250")
	tl.cmd(t, "MAIL FROM:<>", "250")
	tl.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
	tl.send(t, "BDAT 1000 LAST\r\nSubject: x\r\n\r\npart\r\n")
	line, err := tl.reply()
	if err != nil || line != "421 4.4.2 "+errDataTimeout.Message {
		t.Fatalf("stalled BDAT chunk over TLS: %q, %v; want 421 4.4.2 %s", line, err, errDataTimeout.Message)
	}
	if m.count() != 0 {
		t.Errorf("delivered %d messages, want none", m.count())
	}
}
