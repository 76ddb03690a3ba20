package smtpd

import (
	"errors"
	"io"

	"github.com/emersion/go-smtp"
)

// Observer is told what the server answers, for metrics. Its methods run
// on the session's goroutine, so they must be quick and safe for
// concurrent use.
type Observer interface {
	// SessionStarted is called for each SMTP session: at the first HELO or
	// EHLO of a connection, and again after STARTTLS.
	SessionStarted()
	// Replied is called with the reply code the server gives to MAIL, RCPT
	// and DATA (250 when it accepts; 0 when go-smtp chooses it).
	Replied(command string, code int)
}

// observedBackend tells an Observer of every session and reply, leaving
// the session itself unaware of metrics.
type observedBackend struct {
	*Server
	obs Observer
}

func (b observedBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s, err := b.Server.NewSession(c)
	if err != nil {
		return nil, err
	}
	b.obs.SessionStarted()
	return observedSession{Session: s, obs: b.obs}, nil
}

type observedSession struct {
	smtp.Session
	obs Observer
}

func (s observedSession) Mail(from string, opts *smtp.MailOptions) error {
	err := s.Session.Mail(from, opts)
	s.obs.Replied("MAIL", replyCode(err))
	return err
}

func (s observedSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	err := s.Session.Rcpt(to, opts)
	s.obs.Replied("RCPT", replyCode(err))
	return err
}

func (s observedSession) Data(r io.Reader) error {
	err := s.Session.Data(r)
	if !errors.Is(err, smtp.ErrDataReset) { // go-smtp sends no reply to it
		s.obs.Replied("DATA", replyCode(err))
	}
	return err
}

// replyCode is the code go-smtp sends for a session method's error, or 0
// for an error that is not an *smtp.SMTPError, whose code go-smtp picks
// per command (the session returns none such: see reply).
func replyCode(err error) int {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return 250
	case errors.As(err, &se):
		return se.Code
	default:
		return 0
	}
}
