package smtpd

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// listener caps the connections go-smtp gets to see: in total and per
// client. A connection over a cap is answered 421 4.7.0 and closed here;
// go-smtp never hears of it. Every connection it does pass on is a *conn.
type listener struct {
	net.Listener
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	total    int
	byClient map[string]int
}

func newListener(l net.Listener, opts Options, log *slog.Logger) *listener {
	return &listener{Listener: l, opts: opts, log: log, byClient: map[string]int{}}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, loopback := clientKey(raw.RemoteAddr())
		if why := l.admit(client, loopback); why != "" {
			l.log.Warn("smtp connection refused", slog.String("remote", raw.RemoteAddr().String()),
				slog.String("reason", why))
			go l.refuse(raw, why)
			continue
		}
		c := &conn{Conn: raw, l: l, client: client, loopback: loopback, id: connID(),
			end: time.Now().Add(l.opts.SessionTimeout)}
		l.log.Info("smtp connection", slog.String("conn_id", c.id), slog.String("remote", raw.RemoteAddr().String()))
		return c, nil
	}
}

// admit counts a new connection from client in, or says why it may not come in.
func (l *listener) admit(client string, loopback bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.opts.MaxConnections {
		return "too many connections"
	}
	// Loopback is exempt, as Postfix exempts $mynetworks: a local forwarding
	// MTA or load tool legitimately opens many connections from one address.
	if !loopback && l.byClient[client] >= l.opts.MaxConnectionsPerIP {
		return "too many connections from your address"
	}
	l.total++
	l.byClient[client]++
	return ""
}

func (l *listener) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byClient[client]--; l.byClient[client] <= 0 {
		delete(l.byClient, client)
	}
}

// refuse answers a connection over a cap and closes it. RFC 5321 s3.1
// lets a server open with 421 instead of 220.
func (l *listener) refuse(c net.Conn, why string) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(l.opts.WriteTimeout))
	fmt.Fprintf(c, "421 4.7.0 %s %s, try again later\r\n", l.opts.Hostname, why)
}

// clientKey names the client a connection counts against: its IP address,
// or for IPv6 its /64, which one host commonly holds whole.
func clientKey(addr net.Addr) (key string, loopback bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String(), false
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String(), ip.IsLoopback()
	}
	return ip.String(), ip.IsLoopback()
}

// errTooManyCommands ends a session that keeps sending commands without
// getting a message accepted; go-smtp answers it 421 4.4.0 and closes.
var errTooManyCommands = errors.New("smtpd: too many commands without an accepted message")

// conn is one client connection as go-smtp sees it. Beyond releasing its
// slot on Close, it enforces what go-smtp cannot:
//
//   - An idle timeout on every read and a deadline for the whole session,
//     on top of the deadline go-smtp sets for each command line and for a
//     whole DATA transfer (a slowloris client trickling bytes is cut off).
//   - No command is read after a failed read. go-smtp answers DATA and goes
//     back to reading commands even when the body could not be read to its
//     end (a timeout, a broken connection), so the rest of the body would be
//     taken as commands (emersion/go-smtp issue 196). Once a read has failed,
//     or the session has asked for it with closeAfterReply, the next command
//     read closes the connection instead.
//   - A cap on the commands read since the last accepted message.
//
// go-smtp calls SetReadDeadline exactly once before reading each command
// line (its readLine; the server always has a ReadTimeout), also under TLS,
// whose SetReadDeadline is passed through to this conn. That call is where
// commands are counted and where a poisoned connection is closed, before
// any buffered bytes can be parsed.
type conn struct {
	net.Conn
	l        *listener
	client   string
	loopback bool
	id       string    // names the connection in logs, across STARTTLS
	end      time.Time // the session deadline
	release  sync.Once

	mu           sync.Mutex
	readDeadline time.Time // as go-smtp last set it
	commands     int       // command reads since the last accepted message
	bad          int       // refused or failed commands in the session
	messages     int       // DATA transfers begun, for message ids
	failed       error     // set once no further command may be read
	inMessage    bool      // a DATA or BDAT transfer is being read (see Read)
	inCommand    bool      // a command line is being read, not yet to its end (lines.go)
	// The results of BDAT transactions' Data (bdat.go).
	resultSeen chan error // the dataResult channel last looked at
	bdatRead   bool       // the current BDAT transaction's Data read its message whole
	unheard    chan error // receive from it before the next command
	pending    []byte     // read by watchGone, not yet by go-smtp
	// restore, when set, puts back go-smtp's command line limit before the
	// next command is read (lines.go).
	restore func()
}

// netConn returns the *conn under c, which go-smtp may have wrapped in TLS.
func netConn(c net.Conn) *conn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	nc, _ := c.(*conn)
	return nc
}

// Read reads from the client within the idle and session deadlines. A
// read that fails while a message is being transferred returns a fixed
// 421 reply (errDataTimeout, errDataBroken) instead of the network error:
// go-smtp answers a BDAT chunk it could not read with the error's own
// text under a 554, a permanent refusal naming our sockets, unless the
// error is an *smtp.SMTPError. The cause stays in c.failed for the logs.
func (c *conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		c.mu.Unlock()
		return n, nil
	}
	failed, d, inMessage := c.failed, c.readDeadline, c.inMessage
	c.mu.Unlock()
	if failed != nil {
		if inMessage {
			return 0, transferFailed(failed)
		}
		return 0, failed
	}
	if idle := time.Now().Add(c.l.opts.IdleTimeout); d.IsZero() || idle.Before(d) {
		d = idle
	}
	if c.end.Before(d) {
		d = c.end
	}
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if err != nil {
		c.fail(err)
		if inMessage {
			return n, transferFailed(err)
		}
	}
	return n, err
}

// transferFailed is the reply to a message whose transfer broke off with
// err: 421, the sender retries; the connection is closed after it.
func transferFailed(err error) *smtp.SMTPError {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return errDataTimeout
	}
	return errDataBroken
}

// transfer marks the start (true) and end (false) of a message transfer.
func (c *conn) transfer(on bool) {
	c.mu.Lock()
	c.inMessage = on
	c.mu.Unlock()
}

// failure returns why c stopped reading, or nil.
func (c *conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.hearAbortedBDAT()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.restore != nil {
		c.restore()
		c.restore = nil
	}
	if c.failed != nil {
		c.Conn.Close()
		// go-smtp ends the session quietly on net.ErrClosed.
		return fmt.Errorf("smtpd: connection closed after %v: %w", c.failed, net.ErrClosed)
	}
	c.inCommand = true
	c.commands++
	if c.commands > c.l.opts.MaxCommands {
		c.failed = errTooManyCommands
		return errTooManyCommands
	}
	c.readDeadline = t
	return nil
}

// SetDeadline is not used by go-smtp; it must not count as a command read.
func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *conn) Close() error {
	c.release.Do(func() { c.l.release(c.client) })
	return c.Conn.Close()
}

// fail records that no further command may be read from c.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = err
	}
	c.mu.Unlock()
}

// goneWatchDelay is how long a delivery runs before watchGone begins to
// watch its connection. Nearly every delivery is over sooner (the 250 goes
// out once the message is on disk, a few milliseconds), so nearly none pays
// for the watch: a goroutine, a read that waits, two deadline changes,
// some 8 µs of server CPU per message, a thirtieth of its cost. A client
// that hangs up during a delivery that runs longer is noticed this much
// later; one that hangs up during a shorter one gets its message stored
// and counted once, as one that hangs up just before its 250 always has.
const goneWatchDelay = 100 * time.Millisecond

// watchGone calls gone if the client closes or breaks the connection
// before the watch's stop is called, once the delivery has run for
// goneWatchDelay. It is for the time a message is being delivered, when
// go-smtp reads nothing: a client that hangs up then (or has been gone
// since the end of its data) must not keep a classification running and
// its connection slot taken. It reads at most one byte, which Read hands
// to go-smtp first: a client may have sent its next command already. stop
// returns once the watch is over; the caller must call it before go-smtp
// reads again.
func (c *conn) watchGone(gone func()) *goneWatch {
	w := &goneWatch{c: c, gone: gone}
	w.timer = time.AfterFunc(goneWatchDelay, w.start)
	return w
}

// goneWatch is one delivery's watch (watchGone).
type goneWatch struct {
	c     *conn
	gone  func()
	timer *time.Timer

	mu      sync.Mutex
	stopped bool
	done    chan struct{} // made once the watch has begun, closed when it ends
}

func (w *goneWatch) start() {
	w.mu.Lock()
	// The deadline is lifted under mu, so that stop's deadline, set after
	// it, is the one the read sees.
	if w.stopped || w.c.Conn.SetReadDeadline(time.Time{}) != nil {
		w.mu.Unlock()
		return
	}
	w.done = make(chan struct{})
	w.mu.Unlock()
	defer close(w.done)
	w.c.readWhileGone(w.gone)
}

func (w *goneWatch) stop() {
	if w.timer.Stop() {
		return // the watch never began
	}
	w.mu.Lock()
	w.stopped = true
	watching := w.done
	w.mu.Unlock()
	if watching != nil {
		w.c.Conn.SetReadDeadline(time.Unix(1, 0)) // wakes the read; Read sets its own deadline next
		<-watching
	}
}

// readWhileGone waits for a byte from the client, which it keeps for
// Read, and calls gone if the connection ends instead.
func (c *conn) readWhileGone(gone func()) {
	var b [1]byte
	n, err := c.Conn.Read(b[:])
	c.mu.Lock()
	c.pending = append(c.pending, b[:n]...)
	c.mu.Unlock()
	if ne, ok := errors.AsType[net.Error](err); err == nil || ok && ne.Timeout() {
		return // a byte, or stop's deadline: the client is still there
	}
	c.fail(err)
	gone()
}

// readingCommand reports whether go-smtp is reading a command line that
// has not reached its line feed yet.
func (c *conn) readingCommand() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inCommand
}

// commandRead notes that the command line being read has reached its end.
func (c *conn) commandRead() {
	c.mu.Lock()
	c.inCommand = false
	c.mu.Unlock()
}

// restoreAtNextCommand runs restore before the next command is read.
func (c *conn) restoreAtNextCommand(restore func()) {
	c.mu.Lock()
	c.restore = restore
	c.mu.Unlock()
}

// closeAfterReply closes the connection once the reply to the current
// command is written.
func (c *conn) closeAfterReply(why error) { c.fail(why) }

// refused counts a refused or failed command and reports whether the
// session has now had too many.
func (c *conn) refused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bad++
	return c.bad >= c.l.opts.MaxBadCommands
}

// accepted notes an accepted message, which restarts the command count.
func (c *conn) accepted() {
	c.mu.Lock()
	c.commands = 0
	c.mu.Unlock()
}

// nextMessage returns the number of a new DATA transfer on c.
func (c *conn) nextMessage() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages++
	return c.messages
}

// connID returns a short random id naming one connection in the logs.
func connID() string {
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}
