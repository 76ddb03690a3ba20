package smtpd

import (
	"io"
	"reflect"
	"slices"
	"unsafe"

	"github.com/emersion/go-smtp"
)

// Messages of exactly max_message_bytes
//
// The EHLO reply advertises SIZE max_message_bytes, which RFC 1870 s4
// makes the largest message the server takes: its octets after dot-
// unstuffing, CRLFs included. go-smtp holds MAIL ... SIZE= and BDAT to
// that, but its DATA reader refuses a body of exactly that size: once it
// has counted max_message_bytes octets it answers 552 before looking
// whether the end of data follows. A sender that trusts the advertised
// size would have such a bounce refused for good.
//
// So dataLimit gives the DATA reader one octet more, which lets it read
// to the end of data of a message of exactly the limit, and readData
// refuses a longer one itself, with go-smtp's own 552 (after which go-smtp
// reads the body to its end and the session goes on, as before).
//
// The reader's remaining count is an unexported field, reached the way
// lines.go reaches the line limit; if a go-smtp upgrade moved it, DATA
// stays one octet short, as before, and TestMessageOfExactlyTheLimit fails.

// dataLimit lets r, go-smtp's DATA reader, read one octet past the
// message size limit, so that a message of exactly the limit reaches its
// end of data. It reports whether it did; readData must then refuse a
// message over the limit itself.
func dataLimit(r io.Reader) bool {
	v := reflect.ValueOf(r)
	t := v.Type()
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || t.Elem().Name() != "dataReader" ||
		t.Elem().PkgPath() != reflect.TypeFor[smtp.Conn]().PkgPath() {
		return false
	}
	e := v.Elem()
	n, limited := e.FieldByName("n"), e.FieldByName("limited")
	if !n.IsValid() || !limited.IsValid() || n.Kind() != reflect.Int64 || limited.Kind() != reflect.Bool {
		return false
	}
	if !*(*bool)(unsafe.Pointer(limited.UnsafeAddr())) {
		return false
	}
	*(*int64)(unsafe.Pointer(n.UnsafeAddr()))++
	return true
}

// readData reads a DATA body of at most limit octets, given go-smtp's
// DATA reader r, through a bodyReader over it where it can (body.go).
func readData(r io.Reader, limit int64) ([]byte, error) {
	limited := dataLimit(r)
	if br := newBodyReader(r); br != nil {
		r = br // body.go
	}
	if !limited {
		return readAll(r)
	}
	raw, err := readAll(r)
	if err == nil && int64(len(raw)) > limit {
		return nil, smtp.ErrDataTooLarge
	}
	return raw, err
}

// readAll is io.ReadAll, but its buffer starts at the size of a common
// bounce and doubles: io.ReadAll's starts at 512 bytes and grows by a
// quarter, six allocations and copies for a 3 KB message.
func readAll(r io.Reader) ([]byte, error) {
	b := make([]byte, 0, 4<<10)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = slices.Grow(b, len(b))
		}
	}
}
