package smtpd

import (
	"errors"
	"net"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/store"
)

// The rejections this server makes on purpose.
var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such user here; this host only accepts bounces for its return paths"}
	errBadSender = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7},
		Message: "Bad sender address syntax"}
	errBadRecipient = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "Bad recipient address syntax"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Line too long"}
	errTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Maximum message size exceeded"}
	errTryLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary local problem, try again later"}

	// Storage limits (issue 14): the client's hourly byte allowance, the
	// store's total quota of raw messages. The sender retries later.
	errRateLimited = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
		Message: "Too much mail from your address in the last hour, try again later"}
	errQuota = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
		Message: "Storage quota for received messages reached, try again later"}

	// A DATA transfer that could not be read to its end closes the
	// connection: what is left of the body must not be read as commands.
	errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Timeout reading the message, closing connection"}
	errDataBroken = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 0},
		Message: "Error reading the message, closing connection"}
	errTooManyBad = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many refused commands, closing connection"}

	// With require_signed, RCPT to a return path without a valid signature.
	errUnsigned = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Return path is not signed; this host only accepts bounces for signed return paths"}
	errSignatureExpired = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Return path signature has expired"}
	errBadSignature = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Return path signature is not valid"}
)

// reply turns any error met while handling a command into the SMTP reply
// the client sees. A known rejection keeps its code; anything else becomes
// a generic 451 4.3.0 so the sending MTA retries, and its text, which may
// name files or internals, stays in our logs.
func reply(err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, smtp.ErrTooLongLine) {
		return errLineTooLong
	}
	if errors.Is(err, store.ErrQuota) {
		return errQuota
	}
	return errTryLater
}

// readReply is the reply to a DATA whose body could not be read, and
// whether the connection must close after it. Only a size overrun leaves
// the session usable: go-smtp then reads the rest of the body up to the
// CRLF.CRLF that ends it (and if that read fails, conn closes the
// connection). After any other failure the stream is at an unknown point
// of the body.
//
// Every failure to read is a 4xx with a fixed text: the sender retries, and
// learns nothing of our sockets.
func readReply(err error) (reply error, closeConn bool) {
	switch se, isSMTP := errors.AsType[*smtp.SMTPError](err); {
	case errors.Is(err, smtp.ErrDataTooLarge):
		return smtp.ErrDataTooLarge, false
	case errors.Is(err, smtp.ErrDataReset): // RSET during BDAT: go-smtp sends no reply
		return err, false
	case isSMTP: // conn.Read's transferFailed
		return se, true
	case errors.Is(err, smtp.ErrTooLongLine):
		// Only if lines.go could not lift the limit for the body, which
		// is then max_message_bytes: the message is too large.
		return errTooLarge, true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return errDataTimeout, true
	}
	return errDataBroken, true // io.ErrUnexpectedEOF, a reset: no one is listening anyway
}
