// Package smtpd is bouncesink's SMTP front end (RFC 5321, on
// github.com/emersion/go-smtp). It accepts mail only for the configured
// return paths, keeps nothing but envelope state, and hands each message to
// a Deliverer; it replies 250 to DATA only once the Deliverer has returned,
// that is, once the message is on disk. It never relays.
//
// It is meant for the open internet: every limit has a finite default
// (connections in total and per client, idle and session timeouts, message
// size, recipients, commands), a DATA transfer that fails closes the
// connection so the rest of its body is never read as commands (conn.go),
// and with a verp.Signer it can refuse every return path not signed by us.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/verp"
)

// Deliverer takes an accepted message. A nil error means it is stored
// durably; an error makes the server answer 451 4.3.0 unless it is an
// *smtp.SMTPError, whose code is kept.
type Deliverer interface {
	Deliver(ctx context.Context, env ingest.Envelope, raw []byte) error
}

// The defaults for the zero values of Options.
const (
	DefaultHostname        = "localhost"
	DefaultVERPSeparator   = "+"
	DefaultMaxMessageBytes = 10 << 20 // 10 MiB; bounces quote the original message
	DefaultMaxRecipients   = 50
	DefaultMaxLineLength   = 2000            // command lines; RFC 5321 s4.5.3.1.4 asks for 512 with the CRLF
	DefaultReadTimeout     = 5 * time.Minute // RFC 5321 s4.5.3.2.7 server timeout
	DefaultWriteTimeout    = time.Minute

	// Slowloris and abuse limits. MTAs send each command as soon as they
	// have the reply and stream DATA, so a minute of silence means a broken
	// or hostile client (chasquid uses the same); a session is cut after
	// half an hour and the MTA reconnects for the rest of its queue.
	DefaultIdleTimeout    = time.Minute
	DefaultSessionTimeout = 30 * time.Minute
	// Postfix's defaults: its process limit, its per-client connection
	// limit for outsiders, its junk-command and hard-error limits.
	DefaultMaxConnections      = 100
	DefaultMaxConnectionsPerIP = 20
	DefaultMaxCommands         = 100
	DefaultMaxBadCommands      = 20

	// DefaultIPBytesPerHour is each client's allowance of message bytes:
	// 25,000 bounces of 10 KB an hour from one address, which no MTA
	// sending real bounces reaches, while one address alone can no longer
	// fill a disk.
	DefaultIPBytesPerHour = 256 << 20
)

// DefaultAccept is the return-path list used when none is configured: any
// local part at localhost, so a quickstart on one machine works.
var DefaultAccept = []string{"@localhost"}

// Options configure a Server. Zero values mean the defaults above.
type Options struct {
	Hostname string // announced in the greeting
	// Accept lists the return paths: exact addresses
	// ("bounces@news.example.com") and whole domains ("@bounce.example.com").
	// The VERP form local+TAG@domain of an exact address is accepted too.
	Accept          []string
	VERPSeparator   string
	MaxMessageBytes int64 // larger messages get 552 5.3.4
	MaxRecipients   int   // more RCPTs per message get 452 4.5.3
	// MaxLineLength bounds command lines, not counting the CRLF; a longer
	// one is answered 500 5.4.0 and ends the connection. Body lines are
	// bounded by MaxMessageBytes alone (lines.go).
	MaxLineLength int
	// ReadTimeout bounds the time one command line, or one whole DATA
	// transfer after the DATA command, may take.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// IdleTimeout bounds every wait for the client's next bytes;
	// SessionTimeout the whole connection.
	IdleTimeout    time.Duration
	SessionTimeout time.Duration
	// MaxConnections caps the open connections; MaxConnectionsPerIP those
	// from one IPv4 address or IPv6 /64 (loopback is exempt). A connection
	// over a cap is answered 421 4.7.0 and closed.
	MaxConnections      int
	MaxConnectionsPerIP int
	// MaxCommands caps the commands a connection may send since its last
	// accepted message (or its start); MaxBadCommands the commands refused
	// or failed in a session (RCPT to a foreign or unsigned address, an
	// oversized message). Either ends the connection with a 421.
	MaxCommands    int
	MaxBadCommands int
	// IPBytesPerHour is the message bytes a client (as for
	// MaxConnectionsPerIP; loopback is exempt) may send per hour: past it,
	// MAIL is answered 452 4.3.1 until the allowance refills (rate.go).
	// Zero means DefaultIPBytesPerHour; negative, no limit.
	IPBytesPerHour int64
	// TLSConfig enables STARTTLS when set.
	TLSConfig *tls.Config
	// Signer, when set with RequireSigned, makes RCPT refuse (550 5.7.1)
	// every address without a valid signed return path.
	Signer        *verp.Signer
	RequireSigned bool
	// Now is the clock signatures are checked against; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, when set, is told of every session and reply (metrics).
	Observer Observer
}

func (o Options) withDefaults() Options {
	if o.Hostname == "" {
		o.Hostname = DefaultHostname
	}
	if len(o.Accept) == 0 {
		o.Accept = DefaultAccept
	}
	if o.VERPSeparator == "" {
		o.VERPSeparator = DefaultVERPSeparator
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxConnectionsPerIP <= 0 {
		o.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if o.MaxCommands <= 0 {
		o.MaxCommands = DefaultMaxCommands
	}
	if o.MaxBadCommands <= 0 {
		o.MaxBadCommands = DefaultMaxBadCommands
	}
	if o.IPBytesPerHour == 0 {
		o.IPBytesPerHour = DefaultIPBytesPerHour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server is an SMTP server feeding a Deliverer.
type Server struct {
	smtp    *smtp.Server
	deliver Deliverer
	accept  *acceptList
	opts    Options
	log     *slog.Logger

	rate *byteRate // nil: no limit

	// Each DATA holds a read lock while it delivers; Shutdown takes the
	// write lock so it returns only once no delivery is in flight.
	delivering sync.RWMutex
	closed     bool // set under the write lock

	// base is the parent of every session's context; Shutdown cancels it
	// once its grace is over, which stops deliveries in flight (a long
	// classification) instead of waiting for them.
	base     context.Context
	stopBase context.CancelFunc
}

// New builds a server; it does not listen yet.
func New(d Deliverer, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	accept, err := newAcceptList(opts.Accept, opts.VERPSeparator)
	if err != nil {
		return nil, err
	}
	if opts.RequireSigned && opts.Signer == nil {
		return nil, errors.New("smtpd: RequireSigned without a Signer")
	}
	s := &Server{deliver: d, accept: accept, opts: opts, log: opts.Logger, rate: newByteRate(opts.IPBytesPerHour)}
	s.base, s.stopBase = context.WithCancel(context.Background())
	var backend smtp.Backend = s
	if opts.Observer != nil {
		backend = observedBackend{Server: s, obs: opts.Observer}
	}
	srv := smtp.NewServer(backend)
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxRecipients = opts.MaxRecipients
	// go-smtp counts the CRLF, and the LF before the line, into a line's
	// length; max_line_length does not (lines.go lifts it for bodies).
	srv.MaxLineLength = opts.MaxLineLength + 2
	if !lineLimitFieldOK {
		opts.Logger.Warn("this go-smtp keeps its line length limit where smtpd cannot lift it for message bodies; "+
			"limiting every line to max_message_bytes instead", slog.Int("max_line_length", opts.MaxLineLength))
		srv.MaxLineLength = int(max(opts.MaxMessageBytes, int64(srv.MaxLineLength)))
	}
	srv.ReadTimeout = opts.ReadTimeout
	srv.WriteTimeout = opts.WriteTimeout
	srv.TLSConfig = opts.TLSConfig
	srv.EnableSMTPUTF8 = true // bounces for internationalised addresses arrive this way
	srv.ErrorLog = errorLog{opts.Logger}
	s.smtp = srv
	return s, nil
}

// Serve accepts connections on l until Shutdown, within the connection
// caps and timeouts of the Options.
func (s *Server) Serve(l net.Listener) error {
	s.log.Info("smtp listening", slog.String("addr", l.Addr().String()),
		slog.Bool("starttls", s.opts.TLSConfig != nil), slog.Bool("require_signed", s.opts.RequireSigned))
	if err := s.smtp.Serve(newListener(l, s.opts, s.log)); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return fmt.Errorf("smtpd: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for open sessions to end
// until ctx is done; then it closes those left and cancels the deliveries
// still in flight (their context ends: a classification stops at once).
// It returns once no delivery is in flight, so the Deliverer's store may be
// closed after it. A client cut off before its 250 retries: nothing it
// sent is lost.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.log.Warn("smtp sessions still open at shutdown; closing them")
		err = s.smtp.Close()
	}
	s.stopBase()
	s.delivering.Lock()
	s.closed = true
	s.delivering.Unlock()
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

// errorLog routes go-smtp's internal error messages to slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l errorLog) Println(v ...any)               { l.log.Warn(fmt.Sprint(v...)) }
