package smtpd

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/internal/testlog"
)

func TestConnectionCapRefusesWith421(t *testing.T) {
	opts := returnPaths
	opts.MaxConnections = 2
	_, addr := start(t, &memory{}, opts)
	first, _ := rawDial(t, addr), rawDial(t, addr)

	over := rawConnect(t, addr)
	if got := over.closed(t); len(got) != 1 || !strings.HasPrefix(got[0], "421 4.7.0 ") {
		t.Fatalf("third connection got %q, want one 421 4.7.0 and the connection closed", got)
	}

	// A slot frees when a client leaves.
	first.cmd(t, "QUIT", "221")
	first.closed(t)
	rawDial(t, addr).cmd(t, "EHLO mta.example.net", "250")
}

func TestPerClientCap(t *testing.T) {
	l := newListener(nil, Options{MaxConnections: 100, MaxConnectionsPerIP: 2}, testlog.New(t))
	v4, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1})
	v4b, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 1})
	v6, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1})
	v6same, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("2001:db8::ffff:2"), Port: 1}) // same /64
	lo, loopback := clientKey(&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1})
	if v6 != v6same || v6 == v4 || v4 == v4b || !loopback {
		t.Fatalf("client keys %q %q %q %q %q (loopback %v)", v4, v4b, v6, v6same, lo, loopback)
	}
	steps := []struct {
		client   string
		loopback bool
		ok       bool
	}{
		{v4, false, true}, {v4, false, true}, {v4, false, false}, // third from one address
		{v4b, false, true},
		{v6, false, true}, {v6same, false, true}, {v6, false, false}, // an IPv6 /64 is one client
		{lo, true, true}, {lo, true, true}, {lo, true, true}, // loopback is exempt
	}
	for i, s := range steps {
		if why := l.admit(s.client, s.loopback); (why == "") != s.ok {
			t.Errorf("step %d: admit(%s) = %q, want admitted %v", i, s.client, why, s.ok)
		}
	}
	l.release(v4)
	if why := l.admit(v4, false); why != "" {
		t.Errorf("admit after a release = %q, want admitted", why)
	}
}

func TestIdleClientIsDisconnected(t *testing.T) {
	opts := returnPaths
	opts.IdleTimeout = 200 * time.Millisecond
	_, addr := start(t, &memory{}, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	// Say nothing.
	if got := c.closed(t); len(got) != 1 || !strings.HasPrefix(got[0], "421 4.4.2") {
		t.Errorf("idle client got %q, want 421 4.4.2 and the connection closed", got)
	}
}

// A client that keeps talking, but never gets anything done, is cut off
// at the session deadline.
func TestSessionDeadline(t *testing.T) {
	opts := returnPaths
	opts.SessionTimeout = 300 * time.Millisecond
	opts.MaxCommands = 1 << 30
	_, addr := start(t, &memory{}, opts)
	c := rawDial(t, addr)
	for i := 0; ; i++ {
		c.send(t, "NOOP\r\n")
		line, err := c.reply()
		if err != nil || !strings.HasPrefix(line, "250") {
			if !strings.HasPrefix(line, "421 4.4.2") {
				t.Errorf("after %d NOOPs: %q, %v; want 421 4.4.2 at the session deadline", i, line, err)
			}
			break
		}
		time.Sleep(20 * time.Millisecond) // a trickle, always inside the idle timeout
	}
	c.closed(t)
}

func TestTooManyCommands(t *testing.T) {
	opts := returnPaths
	opts.MaxCommands = 5
	m := &memory{}
	_, addr := start(t, m, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	// An accepted message restarts the count: a busy MTA is not cut off.
	for range 3 {
		c.cmd(t, "MAIL FROM:<>", "250")
		c.cmd(t, "RCPT TO:<bounces@news.example.com>", "250")
		c.cmd(t, "DATA", "354")
		c.cmd(t, "Subject: x\r\n\r\nbody\r\n.", "250")
	}
	for range 5 {
		c.cmd(t, "NOOP", "250")
	}
	c.send(t, "NOOP\r\n")
	if got := c.closed(t); len(got) != 1 || !strings.HasPrefix(got[0], "421 ") {
		t.Errorf("sixth command since the last message got %q, want a 421 and the connection closed", got)
	}
	if m.count() != 3 {
		t.Errorf("delivered %d messages, want 3", m.count())
	}
}

func TestTooManyRefusedCommands(t *testing.T) {
	opts := returnPaths
	opts.MaxBadCommands = 3
	_, addr := start(t, &memory{}, opts)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")
	c.cmd(t, "MAIL FROM:<>", "250")
	c.cmd(t, "RCPT TO:<victim@gmail.com>", "550 5.1.1")
	c.cmd(t, "RCPT TO:<other@news.example.com>", "550 5.1.1")
	c.cmd(t, "RCPT TO:<probe@news.example.com>", "421 4.7.0")
	if got := c.closed(t); len(got) != 0 {
		t.Errorf("after the 421: %q, want the connection closed", got)
	}
}

// A panic while handling one message answers 451 for it; other clients,
// and the same one retrying, are served.
func TestPanicLeavesServerUp(t *testing.T) {
	m := &memory{}
	first := true
	d := deliverFunc(func(ctx context.Context, env ingest.Envelope, raw []byte) error {
		if first {
			first = false
			var nilMap map[string]int
			nilMap["boom"]++ // a real runtime panic
		}
		return m.Deliver(ctx, env, raw)
	})
	_, addr := start(t, d, returnPaths)
	c := dial(t, addr)
	wantCode(t, send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)), 451, [3]int{4, 3, 0})
	if err := send(dial(t, addr), "", []string{"bounces@news.example.com"}, []byte(bounce)); err != nil {
		t.Fatalf("another connection after the panic: %v", err)
	}
	if err := send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)); err != nil {
		t.Fatalf("retry on the same connection: %v", err)
	}
	if m.count() != 2 {
		t.Errorf("delivered %d, want 2", m.count())
	}
}
