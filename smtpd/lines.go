package smtpd

import (
	"reflect"
	"unsafe"

	"github.com/emersion/go-smtp"
)

// Long lines in the body
//
// max_line_length bounds command lines only. The body of a message is
// bounded by max_message_bytes alone: real bounces quote header lines of
// the original far longer than RFC 5321's 1000 octets (a References
// header, a DKIM signature, an HTML part without line breaks), and a
// message refused with 500 for it would be lost for good.
//
// go-smtp applies Server.MaxLineLength to everything it reads except BDAT
// chunks: its handleBdat sets the connection's lineLimitReader.LineLimit
// to 0 while it copies a chunk. It offers no option to do the same for a
// DATA body, so bodyLines does it from Session.Data, through the same
// unexported field, and the next command read (conn.SetReadDeadline, which
// go-smtp calls before each one) puts the limit back. Both run on the
// connection's goroutine, as go-smtp's own changes of the field do.
//
// The field is found by name when the server is built; if a go-smtp
// upgrade moved it, New logs a warning and falls back to a line limit of
// max_message_bytes for everything (bodies are never refused for their
// lines; command lines are bounded by the message size), and
// TestLineLimitFieldIsFound fails.

// lineLimitFieldOK reports whether smtp.Conn has the lineLimitReader field
// bodyLines changes, with the layout this file expects.
var lineLimitFieldOK = func() bool {
	f, ok := reflect.TypeFor[smtp.Conn]().FieldByName("lineLimitReader")
	if !ok || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
		return false
	}
	limit, ok1 := f.Type.Elem().FieldByName("LineLimit")
	cur, ok2 := f.Type.Elem().FieldByName("curLineLength")
	return ok1 && ok2 && limit.Type.Kind() == reflect.Int && cur.Type.Kind() == reflect.Int
}()

// lineLimit returns pointers to the line limit go-smtp applies to c's
// reads and to its count of the current line, or nils.
func lineLimit(c *smtp.Conn) (limit, cur *int) {
	if !lineLimitFieldOK || c == nil {
		return nil, nil
	}
	r := reflect.ValueOf(c).Elem().FieldByName("lineLimitReader")
	if r.IsNil() {
		return nil, nil
	}
	r = r.Elem()
	limit = (*int)(unsafe.Pointer(r.FieldByName("LineLimit").UnsafeAddr()))
	cur = (*int)(unsafe.Pointer(r.FieldByName("curLineLength").UnsafeAddr()))
	return limit, cur
}

// bodyLines lifts the line limit of c for the DATA body being read, and
// returns the function that restores it (commandLimit, the go-smtp value
// that lets command lines of max_line_length octets through), or nil if
// there is nothing to restore.
func bodyLines(c *smtp.Conn, commandLimit int) (restore func()) {
	limit, cur := lineLimit(c)
	if limit == nil {
		return nil
	}
	*limit = 0
	return func() {
		*limit = commandLimit
		*cur = 1 // at the start of a line, just past the CRLF that ended the last one
	}
}
