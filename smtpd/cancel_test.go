package smtpd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
)

// hostile is a Deliverer standing in for a classification that would run
// for minutes: it works until its context ends, and says so.
type hostile struct {
	started   chan struct{}
	cancelled chan struct{}
}

func newHostile() *hostile {
	return &hostile{started: make(chan struct{}, 16), cancelled: make(chan struct{}, 16)}
}

func (h *hostile) Deliver(ctx context.Context, env ingest.Envelope, raw []byte) error {
	h.started <- struct{}{}
	<-ctx.Done()
	h.cancelled <- struct{}{}
	return ctx.Err()
}

// waitFor fails the test if ch does not receive within a generous bound:
// it only keeps a broken build from hanging until the test binary's
// timeout; it measures nothing.
func waitFor(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("still waiting for %s", what)
	}
}

// A client that hangs up while its message is being delivered stops the
// delivery, and frees its connection slot for the next client.
func TestClientGoneStopsDelivery(t *testing.T) {
	h := newHostile()
	opts := returnPaths
	opts.MaxConnections = 1
	_, addr := start(t, h, opts)
	c := rawDial(t, addr)
	openData(t, c)
	c.send(t, "Subject: x\r\n\r\nexpensive\r\n.\r\n")
	waitFor(t, h.started, "the delivery to start")
	c.Close()
	waitFor(t, h.cancelled, "the delivery to be cancelled after the client left")

	// The one slot frees once the session ends; until then a client may
	// still get 421. Poll, bounded.
	for i := 0; ; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 512)
		n, _ := nc.Read(buf)
		nc.Close()
		if strings.HasPrefix(string(buf[:n]), "220 ") {
			break
		}
		if i == 500 {
			t.Fatalf("the next client still gets %q: the slot was not freed", buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A client that pipelines its next command behind the end of data is not
// taken for gone, and the command is answered.
func TestPipelinedCommandAfterDataIsKept(t *testing.T) {
	m := &memory{}
	_, addr := start(t, m, returnPaths)
	c := rawDial(t, addr)
	openData(t, c)
	c.send(t, "Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n")
	if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250 2.0.0") {
		t.Fatalf("end of data: %q, %v", line, err)
	}
	if line, err := c.reply(); err != nil || !strings.HasPrefix(line, "250 2.0.0") {
		t.Fatalf("the pipelined NOOP: %q, %v", line, err)
	}
	c.cmd(t, "QUIT", "221")
	if m.count() != 1 {
		t.Errorf("delivered %d, want 1", m.count())
	}
}

// Shutdown does not wait for a delivery that would run for minutes: it
// cancels it once its grace is over.
func TestShutdownCancelsDelivery(t *testing.T) {
	h := newHostile()
	srv, err := New(h, Options{Accept: returnPaths.Accept, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	c := rawDial(t, l.Addr().String())
	openData(t, c)
	c.send(t, "Subject: x\r\n\r\nexpensive\r\n.\r\n")
	waitFor(t, h.started, "the delivery to start")
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace
		srv.Shutdown(ctx)
		close(done)
	}()
	waitFor(t, done, "Shutdown to return while a delivery runs until cancelled")
	waitFor(t, h.cancelled, "the delivery to be cancelled")
}

// fakeRemote makes every connection look as if it came from addr, so the
// limits that exempt loopback apply.
type fakeRemote struct {
	net.Listener
	addr net.Addr
}

func (l fakeRemote) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c, l.addr}, nil
}

type remoteConn struct {
	net.Conn
	addr net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.addr }

// A client past its hourly byte allowance gets 452 4.3.1 at MAIL; another
// client does not.
func TestByteRatePerClient(t *testing.T) {
	m := &memory{}
	opts := returnPaths
	opts.IPBytesPerHour = 2*int64(len(bounce)) - 1 // the second message overdraws it
	opts.Logger = testlog.New(t)
	srv, err := New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(fakeRemote{l, &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000}})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	c := dial(t, l.Addr().String())
	for i := range 2 {
		if err := send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)); err != nil {
			t.Fatalf("message %d within the allowance: %v", i, err)
		}
	}
	se := wantCode(t, send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)), 452, smtp.EnhancedCode{4, 3, 1})
	if !strings.Contains(se.Message, "last hour") {
		t.Errorf("reply %q does not say why", se.Message)
	}
	if m.count() != 2 {
		t.Errorf("delivered %d, want 2", m.count())
	}
	// Loopback (a local forwarding MTA) is exempt.
	_, lo := start(t, m, opts)
	lc := dial(t, lo)
	for i := range 5 {
		if err := send(lc, "", []string{"bounces@news.example.com"}, []byte(bounce)); err != nil {
			t.Fatalf("loopback message %d: %v", i, err)
		}
	}
}

// The store's quota is a 452 4.3.1 with a text that says so.
func TestQuotaReply(t *testing.T) {
	d := deliverFunc(func(context.Context, ingest.Envelope, []byte) error {
		return fmt.Errorf("ingest: record message: %w", fmt.Errorf("store: record: %w", store.ErrQuota))
	})
	_, addr := start(t, d, returnPaths)
	se := wantCode(t, send(dial(t, addr), "", []string{"bounces@news.example.com"}, []byte(bounce)), 452, smtp.EnhancedCode{4, 3, 1})
	if !strings.Contains(se.Message, "quota") {
		t.Errorf("reply %q does not say why", se.Message)
	}
}
