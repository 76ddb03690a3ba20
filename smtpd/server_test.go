package smtpd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/internal/testlog"
)

// deliverFunc adapts a function to Deliverer.
type deliverFunc func(ctx context.Context, env ingest.Envelope, raw []byte) error

func (f deliverFunc) Deliver(ctx context.Context, env ingest.Envelope, raw []byte) error {
	return f(ctx, env, raw)
}

// memory is a Deliverer that keeps what it is given.
type memory struct {
	mu   sync.Mutex
	envs []ingest.Envelope
	raws [][]byte
}

func (m *memory) Deliver(ctx context.Context, env ingest.Envelope, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.envs = append(m.envs, env)
	m.raws = append(m.raws, raw)
	return nil
}

func (m *memory) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.envs)
}

// start runs a server on a free loopback port and returns it and its address.
func start(t *testing.T, d Deliverer, opts Options) (*Server, string) {
	t.Helper()
	opts.Logger = testlog.New(t)
	srv, err := New(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, l.Addr().String()
}

func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("mta.example.net"); err != nil {
		t.Fatal(err)
	}
	return c
}

// send runs one mail transaction and returns the error of the first
// command that failed.
func send(c *smtp.Client, from string, to []string, body []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// wantCode fails unless err is an SMTP reply with this code and enhanced code.
func wantCode(t *testing.T, err error, code int, enh smtp.EnhancedCode) *smtp.SMTPError {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP reply %d %v", err, code, enh)
	}
	if se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("got reply %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, code, enh)
	}
	return se
}

var returnPaths = Options{Accept: []string{"bounces@news.example.com", "@bounce.example.com"}}

const bounce = "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n\r\nsorry\r\n"

func TestNullSenderToVERPAddressIsDelivered(t *testing.T) {
	m := &memory{}
	_, addr := start(t, m, returnPaths)
	c := dial(t, addr)
	to := "bounces+alice=example.org@news.example.com"
	if err := send(c, "", []string{to}, []byte(bounce)); err != nil {
		t.Fatalf("send: %v", err)
	}
	if m.count() != 1 {
		t.Fatalf("delivered %d messages, want 1", m.count())
	}
	env := m.envs[0]
	if env.From != "" || len(env.To) != 1 || env.To[0] != to || env.ID == "" {
		t.Errorf("envelope = %+v", env)
	}
	if !bytes.Equal(m.raws[0], []byte(bounce)) {
		t.Errorf("raw = %q, want %q", m.raws[0], bounce)
	}
}

func TestForeignRecipientIsRefused(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		rcpt string
	}{
		{"unknown local part", returnPaths, "someone@news.example.com"},
		{"relay attempt", returnPaths, "victim@gmail.com"},
		{"VERP of unknown address", returnPaths, "someone+alice=example.org@news.example.com"},
		{"default config, foreign domain", Options{}, "bounces@news.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &memory{}
			_, addr := start(t, m, tt.opts)
			c := dial(t, addr)
			if err := c.Mail("", nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, c.Rcpt(tt.rcpt, nil), 550, smtp.EnhancedCode{5, 1, 1})
			// No recipient was taken, so there is no transaction to complete.
			if _, err := c.Data(); err == nil {
				t.Error("DATA accepted without an accepted recipient")
			}
			if m.count() != 0 {
				t.Errorf("delivered %d messages, want none", m.count())
			}
		})
	}
}

func TestDefaultAcceptsLocalhost(t *testing.T) {
	m := &memory{}
	_, addr := start(t, m, Options{})
	c := dial(t, addr)
	if err := send(c, "", []string{"anything@localhost"}, []byte(bounce)); err != nil {
		t.Fatalf("send: %v", err)
	}
	if m.count() != 1 {
		t.Errorf("delivered %d messages, want 1", m.count())
	}
}

func TestTooManyRecipients(t *testing.T) {
	opts := returnPaths
	opts.MaxRecipients = 2
	_, addr := start(t, &memory{}, opts)
	c := dial(t, addr)
	err := send(c, "", []string{"a@bounce.example.com", "b@bounce.example.com", "c@bounce.example.com"}, []byte(bounce))
	wantCode(t, err, 452, smtp.EnhancedCode{4, 5, 3})
}

func TestOversizedMessageThenNextIsAccepted(t *testing.T) {
	m := &memory{}
	opts := returnPaths
	opts.MaxMessageBytes = 4096
	_, addr := start(t, m, opts)
	c := dial(t, addr)

	big := []byte(bounce + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 100))
	wantCode(t, send(c, "", []string{"bounces@news.example.com"}, big), 552, smtp.EnhancedCode{5, 3, 4})

	// The same session goes on.
	if err := send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)); err != nil {
		t.Fatalf("next message on the same session: %v", err)
	}
	if m.count() != 1 || !bytes.Equal(m.raws[0], []byte(bounce)) {
		t.Errorf("delivered %q, want only the small message", m.raws)
	}
}

func TestDeliveryFailureReplies451WithoutInternals(t *testing.T) {
	tests := []struct {
		name    string
		deliver deliverFunc
	}{
		{"store error", func(context.Context, ingest.Envelope, []byte) error {
			return errors.New("store: write /var/lib/secret.db: disk on fire")
		}},
		{"panic", func(context.Context, ingest.Envelope, []byte) error { panic("disk on fire") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := start(t, tt.deliver, returnPaths)
			c := dial(t, addr)
			se := wantCode(t, send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)),
				451, smtp.EnhancedCode{4, 3, 0})
			if strings.Contains(se.Message, "disk") || strings.Contains(se.Message, "secret") {
				t.Errorf("reply %q leaks internal error text", se.Message)
			}
			// The session survives for the retry.
			if err := c.Noop(); err != nil {
				t.Errorf("session unusable after the failure: %v", err)
			}
		})
	}
}

func TestDeliveryRejectionKeepsItsCode(t *testing.T) {
	reject := &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "not a bounce"}
	d := deliverFunc(func(context.Context, ingest.Envelope, []byte) error { return reject })
	_, addr := start(t, d, returnPaths)
	c := dial(t, addr)
	wantCode(t, send(c, "", []string{"bounces@news.example.com"}, []byte(bounce)), 554, smtp.EnhancedCode{5, 6, 0})
}

func TestShutdownWaitsForDelivery(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	d := deliverFunc(func(context.Context, ingest.Envelope, []byte) error {
		close(started)
		<-release
		finished.Store(true)
		return nil
	})
	srv, addr := start(t, d, returnPaths)
	c := dial(t, addr)
	go send(c, "", []string{"bounces@news.example.com"}, []byte(bounce))
	<-started

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // do not wait for idle sessions
		shut <- srv.Shutdown(ctx)
	}()
	close(release)
	<-shut
	if !finished.Load() {
		t.Error("Shutdown returned while a delivery was in flight")
	}
}

func TestReplyMapping(t *testing.T) {
	tests := []struct {
		err  error
		want *smtp.SMTPError
	}{
		{nil, nil},
		{smtp.ErrDataTooLarge, smtp.ErrDataTooLarge},
		{errNoSuchUser, errNoSuchUser},
		{smtp.ErrTooLongLine, errLineTooLong},
		{context.Canceled, errTryLater},
		{errors.New("store: bbolt: timeout"), errTryLater},
	}
	for _, tt := range tests {
		got := reply(tt.err)
		if (tt.want == nil) != (got == nil) || (got != nil && got.(*smtp.SMTPError) != tt.want) {
			t.Errorf("reply(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
