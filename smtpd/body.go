package smtpd

import (
	"bufio"
	"bytes"
	"io"
	"reflect"
	"unsafe"

	"github.com/emersion/go-smtp"
)

// Reading a DATA body in bulk
//
// go-smtp's DATA reader undoes the dot-stuffing and finds the end of data
// one byte at a time: a bufio.Reader.ReadByte call and a turn of its state
// machine for each octet, some 20 µs of a 3 KB bounce, a tenth of the
// server's CPU for it. bodyReader runs the same state machine, on the
// same fields of the same reader (so go-smtp finds them as it left them
// when it reads the rest of a refused body), over the bytes bufio holds,
// and copies a line's bytes up to its CR at once. Its answer is go-smtp's,
// byte for byte and error for error: TestBodyReaderReadsAsGoSMTP holds it
// to go-smtp's own reader.
//
// The reader's fields are unexported and found by name, as size.go finds
// two of them; if a go-smtp upgrade moved them, bodyReader is not used
// and the body is read through go-smtp's reader, as before.

// The states of go-smtp's DATA reader (and net/textproto's dotReader).
const (
	stateBeginLine = iota // beginning of line; initial state; must be zero
	stateDot              // read . at beginning of line
	stateDotCR            // read .\r at beginning of line
	stateCR               // read \r (possibly at end of line)
	stateData             // reading data in middle of line
	stateEOF              // reached .\r\n end marker line
)

// bodyReader reads a DATA body through the fields of go-smtp's reader.
type bodyReader struct {
	r       *bufio.Reader
	state   *int
	limited *bool
	n       *int64
}

// dataReaderFieldsOK reports whether go-smtp's DATA reader has the fields
// bodyReader works on, with their types.
func dataReaderFieldsOK(t reflect.Type) bool {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || t.Elem().Name() != "dataReader" ||
		t.Elem().PkgPath() != reflect.TypeFor[smtp.Conn]().PkgPath() {
		return false
	}
	for _, want := range [...]struct {
		name string
		typ  reflect.Type
	}{
		{"r", reflect.TypeFor[*bufio.Reader]()}, {"state", reflect.TypeFor[int]()},
		{"limited", reflect.TypeFor[bool]()}, {"n", reflect.TypeFor[int64]()},
	} {
		if f, ok := t.Elem().FieldByName(want.name); !ok || f.Type != want.typ {
			return false
		}
	}
	return true
}

// newBodyReader returns the bodyReader over r, go-smtp's DATA reader, or
// nil when r is not one bodyReader knows.
func newBodyReader(r io.Reader) *bodyReader {
	v := reflect.ValueOf(r)
	if !dataReaderFieldsOK(v.Type()) {
		return nil
	}
	e := v.Elem()
	field := func(name string) unsafe.Pointer { return unsafe.Pointer(e.FieldByName(name).UnsafeAddr()) }
	return &bodyReader{
		r:       *(**bufio.Reader)(field("r")),
		state:   (*int)(field("state")),
		limited: (*bool)(field("limited")),
		n:       (*int64)(field("n")),
	}
}

// Read is go-smtp's dataReader.Read.
func (d *bodyReader) Read(b []byte) (n int, err error) {
	if *d.limited {
		if *d.n <= 0 {
			return 0, smtp.ErrDataTooLarge
		}
		if int64(len(b)) > *d.n {
			b = b[0:*d.n]
		}
	}
	state := *d.state
	for n < len(b) && state != stateEOF {
		// Where dataReader's ReadByte would fill the buffer, and fail.
		if d.r.Buffered() == 0 {
			if _, err = d.r.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				break
			}
		}
		in, _ := d.r.Peek(d.r.Buffered())
		i := 0
		for i < len(in) && n < len(b) && state != stateEOF {
			if state == stateData {
				// Up to the next CR, every byte is data.
				chunk := in[i:min(len(in), i+len(b)-n)]
				if cr := bytes.IndexByte(chunk, '\r'); cr >= 0 {
					chunk, state = chunk[:cr+1], stateCR
				}
				n += copy(b[n:], chunk)
				i += len(chunk)
				continue
			}
			c := in[i]
			i++
			switch state {
			case stateBeginLine:
				if c == '.' {
					state = stateDot
					continue
				}
				if c == '\r' {
					state = stateCR
					break
				}
				state = stateData
			case stateDot:
				if c == '\r' {
					state = stateDotCR
					continue
				}
				state = stateData
			case stateDotCR:
				if c == '\n' {
					state = stateEOF
					continue
				}
				state = stateData
			case stateCR:
				if c == '\n' {
					state = stateBeginLine
					break
				}
				state = stateData
			}
			b[n] = c
			n++
		}
		d.r.Discard(i)
	}
	*d.state = state
	if err == nil && state == stateEOF {
		err = io.EOF
	}
	if *d.limited {
		*d.n -= int64(n)
	}
	return n, err
}
