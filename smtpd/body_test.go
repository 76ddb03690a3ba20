package smtpd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/emersion/go-smtp"
)

// typeBackend records the type of the reader go-smtp hands to Data.
type typeBackend struct{ got chan reflect.Type }

func (b typeBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return typeSession(b), nil }

type typeSession typeBackend

func (typeSession) Reset()                               {}
func (typeSession) Logout() error                        { return nil }
func (typeSession) Mail(string, *smtp.MailOptions) error { return nil }
func (typeSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s typeSession) Data(r io.Reader) error             { s.got <- reflect.TypeOf(r); return nil }

// goSMTPDataReader returns the type of go-smtp's DATA reader, from a
// message sent to a bare go-smtp server.
func goSMTPDataReader(t testing.TB) reflect.Type {
	t.Helper()
	got := make(chan reflect.Type, 1)
	srv := smtp.NewServer(typeBackend{got: got})
	srv.Domain = "localhost"
	srv.MaxMessageBytes = 1 << 20
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("", []string{"a@example.org"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	typ := <-got
	if !dataReaderFieldsOK(typ) {
		t.Fatalf("go-smtp's DATA reader %v does not have the fields bodyReader reads: bodies are read byte by byte again (body.go)", typ)
	}
	return typ
}

// newDataReader makes a go-smtp DATA reader over r, in state, with a
// limit of n octets when n >= 0.
func newDataReader(typ reflect.Type, r *bufio.Reader, state int, n int64) io.Reader {
	v := reflect.New(typ.Elem())
	e := v.Elem()
	set := func(name string) unsafe.Pointer { return unsafe.Pointer(e.FieldByName(name).UnsafeAddr()) }
	*(**bufio.Reader)(set("r")) = r
	*(*int)(set("state")) = state
	if n >= 0 {
		*(*bool)(set("limited")) = true
		*(*int64)(set("n")) = n
	}
	return v.Interface().(io.Reader)
}

// bodyReadsDiffer reads input through go-smtp's DATA reader and through a
// bodyReader over another, reads of size each, from a bufio.Reader of
// bufSize over the input as wrap hands it on, and describes the first
// difference: bytes, counts, errors, or the state left in the reader.
func bodyReadsDiffer(typ reflect.Type, input []byte, wrap func(io.Reader) io.Reader, bufSize, size, state int, limit int64) string {
	ref := newDataReader(typ, bufio.NewReaderSize(wrap(bytes.NewReader(input)), bufSize), state, limit)
	dr := newDataReader(typ, bufio.NewReaderSize(wrap(bytes.NewReader(input)), bufSize), state, limit)
	fast := newBodyReader(dr)
	a, b := make([]byte, size), make([]byte, size)
	for range len(input) + 3 {
		n1, err1 := ref.Read(a)
		n2, err2 := fast.Read(b)
		switch {
		case n1 != n2 || !bytes.Equal(a[:n1], b[:n2]):
			return fmt.Sprintf("read %q, bodyReader %q", a[:n1], b[:n2])
		case err1 != err2:
			return fmt.Sprintf("error %v, bodyReader %v", err1, err2)
		case !reflect.DeepEqual(fieldsOf(ref), fieldsOf(dr)):
			return "fields differ after a read"
		}
		if err1 != nil && n1 == 0 {
			break
		}
	}
	// What go-smtp would read next, the rest of the body or the next command.
	rest1, _ := io.ReadAll(*(**bufio.Reader)(unsafe.Pointer(reflect.ValueOf(ref).Elem().FieldByName("r").UnsafeAddr())))
	rest2, _ := io.ReadAll(fast.r)
	if !bytes.Equal(rest1, rest2) {
		return "what follows differs"
	}
	return ""
}

func fieldsOf(r io.Reader) [3]any {
	e := reflect.ValueOf(r).Elem()
	return [3]any{e.FieldByName("state").Int(), e.FieldByName("limited").Bool(), e.FieldByName("n").Int()}
}

// readers hand the input on as it may come off a connection.
var readers = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"bytes":    iotest.OneByteReader,
	"halves":   iotest.HalfReader,
	"with EOF": iotest.DataErrReader,
	"broken": func(r io.Reader) io.Reader {
		return io.MultiReader(r, iotest.ErrReader(net.ErrClosed))
	},
}

// bodyReader reads what go-smtp's DATA reader reads, in the same pieces,
// with the same errors, leaving the reader as go-smtp would: for bodies
// with every awkward line (dots, bare CRs and LFs, an end of data split
// or spoiled, no end at all), over a buffer smaller and larger than the
// body, reads of every size, with and without a size limit.
func TestBodyReaderReadsAsGoSMTP(t *testing.T) {
	typ := goSMTPDataReader(t)
	inputs := []string{
		"", ".", "\r\n.\r\n", ".\r\n", "a\r\n.\r\nNOOP\r\n", "..a\r\n.\r\n", ".\rX\r\n.\r\n", "a\r\r\n.\r\n\r\n.\r\n",
		"a\n.\n", "a\n.\r\nb\r\n.\r\n", "Subject: x\r\n\r\n.dotted\r\n" + strings.Repeat("line\r\n", 300) + ".\r\nQUIT\r\n",
		strings.Repeat("x", 5000) + "\r\n.\r\n", "a\r\n.\r", "a\r\n.",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 150 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = ".\r\naZ"[rng.IntN(5)]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		for name, wrap := range readers {
			for _, bufSize := range []int{16, 4096} {
				for _, size := range []int{1, 3, 512, 8192} {
					for _, limit := range []int64{-1, 0, 5, int64(len(in) / 2), 1 << 20} {
						for _, state := range []int{stateBeginLine, stateCR, stateData} {
							if d := bodyReadsDiffer(typ, []byte(in), wrap, bufSize, size, state, limit); d != "" {
								t.Fatalf("%q (%s, buffer %d, reads of %d, limit %d, state %d): %s", limitBytes(in, 80), name, bufSize, size, limit, state, d)
							}
						}
					}
				}
			}
		}
	}
}

func limitBytes(s string, n int) string { return s[:min(len(s), n)] }

// FuzzBodyReader: bodyReader reads any input as go-smtp's reader does.
// Run: go test ./smtpd -run '^$' -fuzz FuzzBodyReader -fuzztime 5m
func FuzzBodyReader(f *testing.F) {
	f.Add([]byte("a\r\n.\r\nNOOP\r\n"), uint16(3), int64(-1))
	f.Add([]byte(".\rX\r\n..\r\n.\r\n"), uint16(512), int64(4))
	var typ reflect.Type
	f.Fuzz(func(t *testing.T, in []byte, size uint16, limit int64) {
		if typ == nil {
			typ = goSMTPDataReader(t)
		}
		for name, wrap := range readers {
			if d := bodyReadsDiffer(typ, in, wrap, 16, int(size%600)+1, stateBeginLine, limit%1000); d != "" {
				t.Fatalf("%s: %s", name, d)
			}
		}
	})
}

// BenchmarkBodyRead reads a 3 KB bounce's DATA body through go-smtp's
// reader and through bodyReader; the figure to read is ns/op.
//
//	go test ./smtpd -run '^$' -bench BodyRead -benchmem
func BenchmarkBodyRead(b *testing.B) {
	typ := goSMTPDataReader(b)
	body := []byte("Subject: x\r\n\r\n" + strings.Repeat("Reporting-MTA: dns; mx.example.net, a line of a bounce\r\n", 55) + ".\r\n")
	for _, bulk := range []bool{false, true} {
		name := "go-smtp"
		if bulk {
			name = "bodyReader"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var r io.Reader = newDataReader(typ, bufio.NewReaderSize(bytes.NewReader(body), 4096), stateBeginLine, 1<<20)
				if bulk {
					r = newBodyReader(r)
				}
				if _, err := readAll(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
