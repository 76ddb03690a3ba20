package smtpd

import (
	"bytes"
	"io"
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
// A BDAT chunk needs more: it follows its command at once (RFC 3030 s2:
// there is no 354 to wait for), so it arrives in the same packets, and
// through crypto/tls in the same records. go-smtp reads the command line
// through a bufio.Reader over its lineLimitReader, whose fill takes
// whatever has arrived, chunk bytes included, while the command line
// limit is on: a chunk that opened with a long line was answered 500
// 5.4.0 (a permanent refusal) and the connection closed. So lineReader,
// put beneath the lineLimitReader at each new session (its reader changes
// at STARTTLS), hands on nothing past the line feed that ends a command
// line while one is being read (conn.SetReadDeadline says when), and
// keeps the rest for the reads after it, when go-smtp has lifted the
// limit for the chunk or put it back for the next command.
//
// The fields are found by name when the server is built; if a go-smtp
// upgrade moved them, New logs a warning and falls back to a line limit of
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
	r, ok3 := f.Type.Elem().FieldByName("R")
	return ok1 && ok2 && ok3 && limit.Type.Kind() == reflect.Int && cur.Type.Kind() == reflect.Int &&
		r.Type == reflect.TypeFor[io.Reader]()
}()

// lineLimit returns pointers to the line limit go-smtp applies to c's
// reads, to its count of the current line and to the reader beneath it,
// or nils.
func lineLimit(c *smtp.Conn) (limit, cur *int, under *io.Reader) {
	if !lineLimitFieldOK || c == nil {
		return nil, nil, nil
	}
	r := reflect.ValueOf(c).Elem().FieldByName("lineLimitReader")
	if r.IsNil() {
		return nil, nil, nil
	}
	r = r.Elem()
	limit = (*int)(unsafe.Pointer(r.FieldByName("LineLimit").UnsafeAddr()))
	cur = (*int)(unsafe.Pointer(r.FieldByName("curLineLength").UnsafeAddr()))
	under = (*io.Reader)(unsafe.Pointer(r.FieldByName("R").UnsafeAddr()))
	return limit, cur, under
}

// bodyLines lifts the line limit of c for the DATA body being read, and
// returns the function that restores it (commandLimit, the go-smtp value
// that lets command lines of max_line_length octets through), or nil if
// there is nothing to restore.
func bodyLines(c *smtp.Conn, commandLimit int) (restore func()) {
	limit, cur, _ := lineLimit(c)
	if limit == nil {
		return nil
	}
	*limit = 0
	return func() {
		*limit = commandLimit
		*cur = 1 // at the start of a line, just past the CRLF that ended the last one
	}
}

// commandLines puts a lineReader for nc beneath c's line limit, unless
// one is there already. It runs on the connection's goroutine, from
// NewSession.
func commandLines(c *smtp.Conn, nc *conn) {
	_, _, under := lineLimit(c)
	if under == nil {
		return
	}
	if _, done := (*under).(*lineReader); !done {
		*under = &lineReader{r: *under, c: nc}
	}
}

// lineReader hands on nothing past the end of a command line while
// go-smtp reads one: the bytes after it (a BDAT chunk) wait in buf.
type lineReader struct {
	r   io.Reader // the connection, or TLS over it
	c   *conn     // says whether a command line is being read
	buf []byte    // read past the end of a command line; buf[off:] not handed on yet
	off int
	err error // r's error that came with the bytes in buf
}

func (l *lineReader) Read(b []byte) (int, error) {
	if l.off < len(l.buf) {
		n := l.cut(b[:copy(b, l.buf[l.off:])])
		l.off += n
		if l.off == len(l.buf) && l.err != nil {
			err := l.err
			l.err = nil
			return n, err
		}
		return n, nil
	}
	n, err := l.r.Read(b)
	if k := l.cut(b[:n]); k < n {
		l.buf, l.off, l.err = append(l.buf[:0], b[k:n]...), 0, err
		return k, nil
	}
	return n, err
}

// cut returns how much of p to hand on: up to its first line feed while a
// command line is being read, which that line feed ends.
func (l *lineReader) cut(p []byte) int {
	if !l.c.readingCommand() {
		return len(p)
	}
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return len(p)
	}
	l.c.commandRead()
	return i + 1
}
