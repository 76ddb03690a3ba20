package smtpd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
)

// A BDAT chunk follows its command at once (RFC 3030 s2: no 354 to wait
// for), so it reaches the server in the same packets, and through
// crypto/tls in the same records. Its lines are body lines, bounded by
// max_message_bytes alone, as in DATA: a chunk that opens with a line
// longer than max_line_length, in the first chunk or a later one, is
// stored, in plain text and inside TLS. go-smtp read the bytes after the
// command line under the command line limit and answered 500 5.4.0, a
// permanent refusal, closing the connection.
func TestBDATChunkWithLongLines(t *testing.T) {
	cert, pool := selfSigned(t, "sink.example.com")
	m := &memory{}
	opts := returnPaths
	opts.MaxLineLength = 1000
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	_, addr := start(t, m, opts)

	long := strings.Repeat("x", 5000)
	body := "Subject: long\r\n\r\n" + long + "\r\nmiddle " + long + "\r\n" + long + "\r\n"
	cut := strings.Index(body, "middle") // the second chunk opens with a long line too

	for _, overTLS := range []bool{false, true} {
		c := rawDial(t, addr)
		c.cmd(t, "EHLO mta.example.net", "250")
		if overTLS {
			c.cmd(t, "STARTTLS", "220")
			tc := tls.Client(c.Conn, &tls.Config{ServerName: "sink.example.com", RootCAs: pool})
			c = &rawClient{Conn: tc, r: bufio.NewReader(tc)}
			c.cmd(t, "EHLO mta.example.net", "250")
		}
		before := m.count()
		// Pipelined, as RFC 3030 allows: one write for the whole transaction.
		c.send(t, "MAIL FROM:<>\r\nRCPT TO:<bounces@news.example.com>\r\n"+
			fmt.Sprintf("BDAT %d\r\n%s", cut, body[:cut])+
			fmt.Sprintf("BDAT %d LAST\r\n%s", len(body)-cut, body[cut:]))
		for _, want := range []string{"250", "250", "250", "250 2.0.0"} {
			if line, err := c.reply(); err != nil || !strings.HasPrefix(line, want) {
				t.Fatalf("TLS %v: reply %q, %v; want %s", overTLS, line, err, want)
			}
		}
		m.mu.Lock()
		if len(m.raws) != before+1 || !bytes.Equal(m.raws[before], []byte(body)) {
			t.Errorf("TLS %v: delivered %d messages, want the one sent", overTLS, len(m.raws)-before)
		}
		m.mu.Unlock()

		// The command line limit is still in force after the chunks.
		c.send(t, "NOOP "+strings.Repeat("y", 1500)+"\r\n")
		if got := c.closed(t); len(got) != 1 || !strings.HasPrefix(got[0], "500 5.4.0") {
			t.Errorf("TLS %v: long command line after BDAT: %q, want 500 5.4.0 and the connection closed", overTLS, got)
		}
	}
}

// A BDAT transaction that ends without its LAST chunk (here a chunk
// refused for its size) is followed at once by another, pipelined: every
// reply is the reply to its own message. go-smtp's Data goroutine of the
// aborted transaction read the connection's result channel while the next
// transaction replaced it (the race detector reported it here), and could
// send its failure as the next message's reply.
func TestBDATAfterAbortedBDAT(t *testing.T) {
	m := &memory{}
	opts := returnPaths
	opts.MaxMessageBytes = 1000
	opts.MaxBadCommands = 100
	_, addr := start(t, m, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	const rounds = 10
	for i := range rounds {
		good := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
		c.send(t, "MAIL FROM:<>\r\nRCPT TO:<bounces@news.example.com>\r\nBDAT 10\r\n0123456789BDAT 2000 LAST\r\n"+
			strings.Repeat("x", 2000)+
			fmt.Sprintf("MAIL FROM:<>\r\nRCPT TO:<bounces@news.example.com>\r\nBDAT %d LAST\r\n%s", len(good), good))
		for j, want := range []string{"250", "250", "250", "552 5.3.4", "250", "250", "250 2.0.0"} {
			if line, err := c.reply(); err != nil || !strings.HasPrefix(line, want) {
				t.Fatalf("round %d, reply %d: %q, %v; want %s", i, j, line, err, want)
			}
		}
	}
	if m.count() != rounds {
		t.Errorf("delivered %d messages, want %d", m.count(), rounds)
	}
}
