package smtpd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/ingest"
)

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	id := connID()
	ctx, cancel := context.WithCancel(context.Background())
	log := s.log.With(slog.String("conn_id", id))
	log.Info("smtp connection", slog.String("remote", c.Conn().RemoteAddr().String()))
	return &session{srv: s, id: id, ctx: ctx, cancel: cancel, log: log}, nil
}

// session holds one connection's envelope state; everything else is the
// Deliverer's business.
type session struct {
	srv    *Server
	id     string
	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc
	log    *slog.Logger
	nmsg   int

	from string
	to   []string
}

func (s *session) Reset() {
	s.from, s.to = "", nil
}

func (s *session) Logout() error {
	s.cancel()
	s.log.Debug("smtp connection closed", slog.Int("messages", s.nmsg))
	return nil
}

// Mail accepts any reverse path: bounces come from the null sender <>,
// auto-replies and feedback reports from real addresses.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !s.srv.accept.accepts(to) {
		s.log.Info("recipient refused", slog.String("rcpt", to), slog.String("from", s.from))
		return errNoSuchUser
	}
	s.to = append(s.to, to)
	return nil
}

// Data reads the message and delivers it. Its return value is the reply to
// DATA: nil (250) only after the Deliverer has stored the message.
func (s *session) Data(r io.Reader) (err error) {
	s.nmsg++
	id := fmt.Sprintf("%s.%d", s.id, s.nmsg)
	log := s.log.With(slog.String("msg_id", id))
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic while handling message", slog.Any("panic", p))
			err = reply(fmt.Errorf("panic: %v", p))
		}
	}()

	raw, err := io.ReadAll(r)
	if err != nil {
		log.Warn("message not received", slog.Any("err", err))
		return reply(err)
	}
	env := ingest.Envelope{From: s.from, To: slices.Clone(s.to), ID: id}

	s.srv.delivering.RLock()
	defer s.srv.delivering.RUnlock()
	if s.srv.closed {
		log.Warn("message refused: server shutting down")
		return errTryLater
	}
	if err := s.srv.deliver.Deliver(s.ctx, env, raw); err != nil {
		log.Error("message not stored", slog.Any("err", err), slog.String("from", s.from),
			slog.Any("to", env.To), slog.Int("bytes", len(raw)))
		return reply(err)
	}
	log.Info("message stored", slog.String("from", s.from), slog.Any("to", env.To), slog.Int("bytes", len(raw)))
	return nil
}

// connID returns a short random id naming one connection in the logs.
func connID() string {
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}
