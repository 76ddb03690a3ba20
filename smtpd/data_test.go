package smtpd

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// smuggled is what an attacker hides in a body after a fake end of data:
// a whole second transaction, which the real end of data (CRLF.CRLF) that
// follows it would complete if it were ever read as commands.
const smuggled = "RSET\r\nMAIL FROM:<>\r\nRCPT TO:<smuggled@bounce.example.com>\r\nDATA\r\n" +
	"Subject: smuggled\r\n\r\nsmuggled"

// openData runs EHLO, MAIL, RCPT and DATA, leaving c in the body.
func openData(t *testing.T, c *rawClient) {
	t.Helper()
	c.cmd(t, "EHLO mta.example.net", "250")
	c.cmd(t, "MAIL FROM:<>", "250")
	c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
	c.cmd(t, "DATA", "354")
}

// go-smtp issue 196: after a DATA transfer fails, the rest of the body
// must not be read as commands. Whatever the client sends after the
// failure, the connection is closed and nothing is delivered.
func TestFailedDataClosesTheSession(t *testing.T) {
	tests := []struct {
		name      string
		opts      func(*Options)
		open      func(*testing.T, *rawClient)
		firstPart string
		wantReply string
	}{
		{"idle timeout in the body", func(o *Options) { o.IdleTimeout = 300 * time.Millisecond },
			openData, "Subject: x\r\n\r\npart one\r\n", "421 4.4.2"},
		{"DATA deadline in the body", func(o *Options) { o.ReadTimeout = 500 * time.Millisecond },
			openData, "Subject: x\r\n\r\npart one\r\n", "421 4.4.2"},
		// Past the size limit go-smtp reads on to the end of the body; a
		// timeout there must close the session too.
		{"timeout after the size limit", func(o *Options) {
			o.IdleTimeout = 300 * time.Millisecond
			o.MaxMessageBytes = 100
		}, openData, "Subject: x\r\n\r\n" + strings.Repeat("y", 200) + "\r\n", "552 5.3.4"},
		// BDAT reads a chunk by its length; a timeout inside one leaves the
		// rest of the chunk unread.
		{"timeout in a BDAT chunk", func(o *Options) { o.IdleTimeout = 300 * time.Millisecond },
			func(t *testing.T, c *rawClient) {
				c.cmd(t, "EHLO mta.example.net", "250")
				c.cmd(t, "MAIL FROM:<>", "250")
				c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
				c.send(t, "BDAT 1000 LAST\r\n")
			}, "Subject: x\r\n\r\npart one\r\n", "421 4.4.2"},
		// The same after a first chunk was taken: the transfer is under way.
		{"timeout in a second BDAT chunk", func(o *Options) { o.IdleTimeout = 300 * time.Millisecond },
			func(t *testing.T, c *rawClient) {
				c.cmd(t, "EHLO mta.example.net", "250")
				c.cmd(t, "MAIL FROM:<>", "250")
				c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
				c.send(t, "BDAT 12\r\nSubject: x\r\n")
				if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250") {
					t.Fatalf("first chunk: %q, %v", line, err)
				}
				c.send(t, "BDAT 1000 LAST\r\n")
			}, "\r\npart two\r\n", "421 4.4.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := returnPaths
			tt.opts(&opts)
			m := &memory{}
			_, addr := start(t, m, opts)
			c := rawDial(t, addr)
			tt.open(t, c)
			c.send(t, tt.firstPart)
			// Stall until the server gives up on the body.
			line, err := c.reply()
			if err != nil || !strings.HasPrefix(line, tt.wantReply) {
				t.Fatalf("after the stall: %q, %v; want %s", line, err, tt.wantReply)
			}
			// A fixed text: nothing of our sockets or Go's errors.
			for _, leak := range []string{"127.0.0.1", "tcp", "i/o", "timeout:", "read "} {
				if strings.Contains(line, leak) {
					t.Errorf("reply %q gives away %q", line, leak)
				}
			}
			// The rest of the body, commands and all, and the end of data.
			c.Write([]byte(smuggled + "\r\n.\r\nQUIT\r\n")) // may fail: the server should be gone
			if got := c.closed(t); len(got) != 0 {
				t.Errorf("the server answered the rest of the body as commands: %q", got)
			}
			if m.count() != 0 {
				t.Errorf("delivered %d messages (to %v), want none", m.count(), m.envs)
			}
		})
	}
}

// SMTP smuggling (SEC Consult, 2023): only CRLF.CRLF ends DATA. A fake end
// of data with a bare LF or CR is body text, so the transaction hidden
// after it is part of the one message and never a message of its own.
func TestOnlyCRLFDotCRLFEndsData(t *testing.T) {
	for _, fake := range []string{
		"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r.\r", "\r.\n", "\n.\r",
		"\r\n\x00.\r\n", "\r\n.\x00\r\n",
	} {
		t.Run(strings.NewReplacer("\r", `\r`, "\n", `\n`, "\x00", `\0`).Replace(fake), func(t *testing.T) {
			m := &memory{}
			_, addr := start(t, m, returnPaths)
			c := rawDial(t, addr)
			openData(t, c)
			c.send(t, "Subject: real\r\n\r\nreal body"+fake+smuggled+"\r\n.\r\n")
			if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250") {
				t.Fatalf("end of data: %q, %v; want 250", line, err)
			}
			c.cmd(t, "QUIT", "221") // the next reply is QUIT's: nothing was run from the body
			if m.count() != 1 {
				t.Fatalf("delivered %d messages, want 1", m.count())
			}
			if to := m.envs[0].To; len(to) != 1 || to[0] != "bounces@news.example.com" {
				t.Errorf("delivered to %q, want the real recipient", to)
			}
			if !bytes.Contains(m.raws[0], []byte("smuggled@bounce.example.com")) {
				t.Errorf("the smuggled text is not in the one message's body: %q", m.raws[0])
			}
		})
	}
}
