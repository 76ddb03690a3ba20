package smtpd

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bouncesink/bouncesink/ingest"
)

// countingObserver records what the server tells it.
type countingObserver struct {
	mu       sync.Mutex
	sessions int
	replies  []string
}

func (o *countingObserver) SessionStarted() {
	o.mu.Lock()
	o.sessions++
	o.mu.Unlock()
}

func (o *countingObserver) Replied(cmd string, code int) {
	o.mu.Lock()
	o.replies = append(o.replies, cmd+" "+strconv.Itoa(code))
	o.mu.Unlock()
}

// The Observer hears every session and the code of every MAIL, RCPT and
// DATA reply, refusals and storage failures included.
func TestObserverCountsReplies(t *testing.T) {
	var fail atomic.Bool
	d := deliverFunc(func(ctx context.Context, env ingest.Envelope, raw []byte) error {
		if fail.Load() {
			return errors.New("disk full")
		}
		return nil
	})
	obs := &countingObserver{}
	_, addr := start(t, d, Options{Observer: obs})
	c := dial(t, addr)
	if err := send(c, "", []string{"bounces@localhost"}, []byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	send(c, "", []string{"someone@example.com"}, nil) // refused at RCPT; the client then RSETs
	c.Reset()
	fail.Store(true)
	send(c, "", []string{"bounces@localhost"}, []byte("Subject: x\r\n\r\nbody\r\n"))
	c.Quit()

	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"MAIL 250", "RCPT 250", "DATA 250", "MAIL 250", "RCPT 550", "MAIL 250", "RCPT 250", "DATA 451"}
	if obs.sessions != 1 || !reflect.DeepEqual(obs.replies, want) {
		t.Errorf("sessions %d, replies %q; want 1, %q", obs.sessions, obs.replies, want)
	}
}
