package crashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
)

// attempt is one message a client tried to deliver. Each names a recipient
// of its own, so the store can be asked about each one alone.
type attempt struct {
	kind  bouncegen.Kind
	rcpt  string // the bounced recipient, user%06d@example.org
	verp  string // RCPT TO
	acked bool   // the server answered 250 to DATA
	sends int    // transmissions: more than one when a reply was lost
}

// sent is the record of every attempt, by id.
type sent struct {
	mu       sync.Mutex
	attempts []attempt
}

func (s *sent) next() (int, attempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := len(s.attempts)
	rcpt := fmt.Sprintf("user%06d@example.org", id)
	a := attempt{kind: bouncegen.Mixed(id), rcpt: rcpt, verp: bouncegen.VERP(rcpt, "localhost")}
	s.attempts = append(s.attempts, a)
	return id, a
}

// acked reports whether any message was answered 250.
func (s *sent) acked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.attempts {
		if a.acked {
			return true
		}
	}
	return false
}

func (s *sent) ack(id int) {
	s.mu.Lock()
	s.attempts[id].acked = true
	s.mu.Unlock()
}

func (s *sent) sending(id int) attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[id].sends++
	return s.attempts[id]
}

// snapshot copies the attempts as they stand.
func (s *sent) snapshot() []attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

// msgTime dates every generated message; the store uses the receipt time.
var msgTime = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func message(id int, a attempt) []byte {
	return bouncegen.Message(a.kind, a.rcpt, a.verp, id, msgTime)
}

// target is the address of the server currently up, if any.
type target struct {
	mu      sync.Mutex
	addr    string
	gen     int
	changed chan struct{}
}

func newTarget() *target { return &target{changed: make(chan struct{})} }

func (t *target) set(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addr, t.gen = addr, t.gen+1
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *target) clear() {
	t.mu.Lock()
	t.addr = ""
	t.mu.Unlock()
}

// await returns the address of a server started after generation after.
func (t *target) await(ctx context.Context, after int) (string, int, error) {
	for {
		t.mu.Lock()
		addr, gen, ch := t.addr, t.gen, t.changed
		t.mu.Unlock()
		if addr != "" && gen > after {
			return addr, gen, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
}

// client sends bounces, one at a time on one connection, until ctx is
// done. A connection that fails is dropped; the next one goes to the same
// server if it is still up, else to the next server started. Like an MTA,
// it sends a message it got no 250 for again, byte for byte, until it
// gets one: when the server died between its commit and its reply, the
// copy must count once.
func client(ctx context.Context, tg *target, s *sent) {
	gen, retry := 0, -1
	for ctx.Err() == nil {
		addr, g, err := tg.await(ctx, gen-1)
		if err != nil {
			return
		}
		c, err := dial(addr)
		if err != nil {
			gen = g + 1 // this server is gone: wait for the next
			continue
		}
		gen = g
		for ctx.Err() == nil {
			id, err := send(c, s, retry)
			if err == nil {
				retry = -1
				continue
			}
			retry = id
			var se *smtp.SMTPError
			if errors.As(err, &se) && c.Reset() == nil {
				continue // refused, e.g. 451; the session goes on
			}
			break
		}
		c.Close()
	}
}

func dial(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = 10 * time.Second
	c.SubmissionTimeout = 10 * time.Second
	if err := c.Hello("crashtest.example"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// send delivers attempt retry again, or a new bounce if retry is -1, and
// records whether it got 250.
func send(c *smtp.Client, s *sent, retry int) (int, error) {
	id := retry
	if id < 0 {
		id, _ = s.next()
	}
	a := s.sending(id)
	if err := c.SendMail("", []string{a.verp}, bytes.NewReader(message(id, a))); err != nil {
		return id, err
	}
	s.ack(id)
	return id, nil
}
