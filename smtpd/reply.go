package smtpd

import (
	"errors"

	"github.com/emersion/go-smtp"
)

// The rejections this server makes on purpose.
var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such user here; this host only accepts bounces for its return paths"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Line too long"}
	errTryLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary local problem, try again later"}
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
	return errTryLater
}
