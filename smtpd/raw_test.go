package smtpd

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawClient speaks SMTP byte for byte, for what smtp.Client will not send:
// bare line feeds, stalls in the middle of a body, pipelined junk.
type rawClient struct {
	net.Conn
	r *bufio.Reader
}

// rawDial connects and reads the greeting, failing the test unless it is
// a 220. Every read gives up after 10 seconds, so a test cannot hang.
func rawDial(t *testing.T, addr string) *rawClient {
	t.Helper()
	c := rawConnect(t, addr)
	if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting = %q, %v; want 220", line, err)
	}
	return c
}

func rawConnect(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{Conn: nc, r: bufio.NewReader(nc)}
}

// reply reads one reply, multi-line or not, and returns its last line.
func (c *rawClient) reply() (string, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return line, err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line, nil
		}
	}
}

// send writes s as it is.
func (c *rawClient) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("writing %.40q: %v", s, err)
	}
}

// cmd sends one command line and fails the test unless the reply starts
// with want ("250", "550 5.1.1", ...). It returns the reply.
func (c *rawClient) cmd(t *testing.T, line, want string) string {
	t.Helper()
	c.send(t, line+"\r\n")
	got, err := c.reply()
	if err != nil || !strings.HasPrefix(got, want) {
		t.Fatalf("%s: reply %q, %v; want %s", line, got, err, want)
	}
	return got
}

// closed fails the test unless the server closes the connection without
// sending anything more than the replies it returns.
func (c *rawClient) closed(t *testing.T) []string {
	t.Helper()
	var replies []string
	for {
		line, err := c.reply()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				t.Fatalf("waiting for the server to close the connection: %v (after %q)", err, replies)
			}
			return replies
		}
		replies = append(replies, line)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
