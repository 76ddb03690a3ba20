package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/verp"
)

// NewSession implements smtp.Backend. go-smtp makes a new session at the
// first HELO or EHLO, and again after STARTTLS; the connection state that
// must outlive a session (its id, its counters) lives in conn.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	nc := netConn(c.Conn())
	if nc == nil {
		return nil, errors.New("smtpd: connection not accepted by Server.Serve")
	}
	_, tls := c.TLSConnectionState()
	log := s.log.With(slog.String("conn_id", nc.id))
	log.Debug("smtp session", slog.String("helo", c.Hostname()), slog.Bool("tls", tls))
	commandLines(c, nc) // a BDAT chunk is not read as a command line (lines.go)
	ctx, cancel := context.WithCancel(s.base)
	return &session{srv: s, conn: nc, smtp: c, ctx: ctx, cancel: cancel, log: log}, nil
}

// session holds one connection's envelope state; everything else is the
// Deliverer's business.
type session struct {
	srv    *Server
	conn   *conn
	smtp   *smtp.Conn
	ctx    context.Context // cancelled when the connection ends, or at shutdown
	cancel context.CancelFunc
	log    *slog.Logger

	from string
	to   []string
}

func (s *session) Reset() {
	s.from, s.to = "", nil
	s.conn.bdatReset(s.smtp)
}

func (s *session) Logout() error {
	s.cancel()
	s.log.Debug("smtp session closed")
	return nil
}

// Mail accepts any reverse path: bounces come from the null sender <>,
// auto-replies and feedback reports from real addresses (ingest decides
// what each may count for). A client past its hourly byte allowance is
// told to come back later.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if hasControl(from) {
		s.log.Info("sender refused: control characters in the address", slog.String("from", from))
		return s.refuse(errBadSender)
	}
	if !s.conn.loopback && !s.srv.rate.allow(s.conn.client, time.Now()) {
		s.log.Warn("message refused: client over its hourly byte allowance", slog.String("client", s.conn.client),
			slog.Int64("ip_bytes_per_hour", s.srv.opts.IPBytesPerHour))
		return s.refuse(errRateLimited)
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if hasControl(to) {
		s.log.Info("recipient refused: control characters in the address", slog.String("rcpt", to))
		return s.refuse(errBadRecipient)
	}
	if !s.srv.accept.accepts(to) {
		s.log.Info("recipient refused", slog.String("rcpt", to), slog.String("from", s.from))
		return s.refuse(errNoSuchUser)
	}
	if s.srv.opts.RequireSigned {
		if _, err := s.srv.opts.Signer.Verify(to, s.srv.opts.Now()); err != nil {
			s.log.Info("recipient refused: return path not signed", slog.String("rcpt", to),
				slog.String("from", s.from), slog.String("why", err.Error()))
			return s.refuse(signatureReply(err))
		}
	}
	s.to = append(s.to, to)
	return nil
}

// hasControl reports whether an envelope address holds an ASCII control
// character (a NUL, a bare CR, DEL...). go-smtp passes them on, even
// outside quotes, but RFC 5321 s4.1.2 allows none in a mailbox, quoted
// or not, and no MTA sends one: such an address is refused rather than
// stored and shown. Octets past ASCII are left alone: an old MTA may send
// a Latin-1 sender, and its auto-reply or complaint must not be lost.
func hasControl(addr string) bool {
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

func signatureReply(err error) *smtp.SMTPError {
	switch {
	case errors.Is(err, verp.ErrUnsigned):
		return errUnsigned
	case errors.Is(err, verp.ErrExpired):
		return errSignatureExpired
	default:
		return errBadSignature
	}
}

// refuse counts a refused command and returns its reply, or once the
// session has had too many, a 421 that closes the connection.
func (s *session) refuse(reply error) error {
	if s.conn.refused() {
		s.log.Warn("too many refused commands; closing connection")
		s.conn.closeAfterReply(errors.New("too many refused commands"))
		return errTooManyBad
	}
	return reply
}

// Data reads the message and delivers it. Its return value is the reply to
// DATA: nil (250) only after the Deliverer has stored the message. A panic
// anywhere in handling the message is this message's 451, not the server's
// end.
func (s *session) Data(r io.Reader) (err error) {
	id := s.conn.id + "." + strconv.Itoa(s.conn.nextMessage())
	// Every line about the message names it; an attribute costs less than
	// a logger made With it, for the one line most messages log.
	msgID := slog.String("msg_id", id)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while handling message", msgID, slog.Any("panic", p))
			err = errTryLater
		}
	}()

	raw, err := s.read(r)
	if err != nil {
		reply, closeConn := readReply(err)
		if cause := s.conn.failure(); cause != nil {
			err = cause // the network error behind a transferFailed reply
		}
		s.log.Warn("message not received", msgID, slog.Any("err", err), slog.Bool("closing", closeConn))
		if closeConn {
			s.conn.closeAfterReply(fmt.Errorf("message not received: %w", err))
			return reply
		}
		return s.refuse(reply)
	}
	if !s.conn.loopback {
		s.srv.rate.charge(s.conn.client, len(raw), time.Now())
	}
	env := ingest.Envelope{From: s.from, To: slices.Clone(s.to), ID: id}

	s.srv.delivering.RLock()
	defer s.srv.delivering.RUnlock()
	if s.srv.closed {
		s.log.Warn("message refused: server shutting down", msgID)
		return errTryLater
	}
	// The delivery stops if the client hangs up meanwhile, or at shutdown.
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	defer s.conn.watchGone(cancel).stop()
	if err := s.srv.deliver.Deliver(ctx, env, raw); err != nil {
		attrs := []any{msgID, slog.Any("err", err), slog.String("from", s.from), slog.Any("to", env.To), slog.Int("bytes", len(raw))}
		switch {
		case ctx.Err() != nil && s.ctx.Err() == nil:
			s.log.Info("message not stored: the client went away during its delivery", attrs...)
		case ctx.Err() != nil:
			s.log.Warn("message not stored: the server is shutting down", attrs...)
		case errors.Is(err, store.ErrQuota):
			s.log.Warn("message refused: the store's raw message quota is reached", attrs...)
		default:
			s.log.Error("message not stored", attrs...)
		}
		return reply(err)
	}
	s.conn.accepted()
	s.log.Info("message stored", msgID, slog.String("from", s.from), slog.Any("to", env.To), slog.Int("bytes", len(raw)))
	return nil
}

// read reads a whole message. go-smtp hands a DATA body over as its own
// dot-unstuffing reader and the chunks of a BDAT transfer through an
// io.Pipe; for DATA, bodyLines lifts its command line limit (lines.go),
// readData lets a message of exactly max_message_bytes in (size.go) and
// reads the body in bulk (body.go).
func (s *session) read(r io.Reader) ([]byte, error) {
	s.conn.transfer(true)
	defer s.conn.transfer(false)
	if _, bdat := r.(*io.PipeReader); bdat {
		raw, err := readAll(r) // go-smtp bounds each chunk against the size limit
		if err == nil {
			s.conn.bdatDone()
		}
		return raw, err
	}
	if restore := bodyLines(s.smtp, s.srv.smtp.MaxLineLength); restore != nil {
		s.conn.restoreAtNextCommand(restore)
	}
	return readData(r, s.srv.opts.MaxMessageBytes) // size.go
}
