package peertest

import (
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// kind is the part of a recipient's local part before any "+": it says
// how the fake MX treats the address.
func kind(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	local, _, _ = strings.Cut(local, "+")
	return local
}

// rcptReply is what the fake recipient MX answers to RCPT TO addr: replies
// real servers give (Postfix's virtual table, a full mailbox, a Spamhaus
// listing, greylisting); nil accepts the address.
func rcptReply(addr string) *smtp.SMTPError {
	switch kind(addr) {
	case "unknown":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + addr + ">: Recipient address rejected: User unknown in virtual mailbox table"}
	case "full":
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2},
			Message: "<" + addr + ">: Mailbox full"}
	case "blocked":
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"}
	case "greylisted":
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0},
			Message: "<" + addr + ">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html"}
	}
	return nil
}

// dataReply is what the fake MX answers at the end of DATA for a message
// to rcpts: a content filter refuses it if it is for a "spam" recipient.
func dataReply(rcpts []string) *smtp.SMTPError {
	if slices.ContainsFunc(rcpts, func(r string) bool { return kind(r) == "spam" }) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "Message rejected as spam (score 12.3)"}
	}
	return nil
}

// fakeMX is the recipients' mail server: a go-smtp server on a loopback
// port that answers with rcptReply and dataReply and keeps the messages
// it accepts.
type fakeMX struct {
	addr string // host:port

	mu        sync.Mutex
	delivered map[string][]byte // by recipient
}

func startMX(t *testing.T) *fakeMX {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mx := &fakeMX{addr: l.Addr().String(), delivered: map[string][]byte{}}
	srv := smtp.NewServer(mx)
	srv.Domain = "mx.example.org"
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("fake MX: %v", err)
		}
	})
	return mx
}

// message returns what the MX accepted for rcpt, nil if nothing.
func (mx *fakeMX) message(rcpt string) []byte {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return mx.delivered[rcpt]
}

func (mx *fakeMX) NewSession(*smtp.Conn) (smtp.Session, error) { return &mxSession{mx: mx}, nil }

type mxSession struct {
	mx    *fakeMX
	rcpts []string
}

func (s *mxSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *mxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := rcptReply(to); e != nil {
		return e
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *mxSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if e := dataReply(s.rcpts); e != nil {
		return e
	}
	s.mx.mu.Lock()
	defer s.mx.mu.Unlock()
	for _, rcpt := range s.rcpts {
		s.mx.delivered[rcpt] = data
	}
	return nil
}

func (s *mxSession) Reset()        { s.rcpts = nil }
func (s *mxSession) Logout() error { return nil }
