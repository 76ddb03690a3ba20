package classify

import (
	"bytes"
	nettextproto "net/textproto"
	"reflect"
	"strings"
	"unsafe"

	"github.com/emersion/go-message/textproto"
)

// Reading a header block without a reader
//
// go-message's textproto.ReadHeader reads a header through a bufio.Reader,
// copying each field into a buffer of its own (256 bytes at least) on the
// way: at a few thousand messages a second its allocations were a sixth of
// the classifier's time. readHeaderBlock gives the same header for the
// block nearly every message has, one that ends in a blank line and whose
// fields are all well formed, straight from the bytes: each field is added
// with Header.AddRaw, which makes of it the key, value and raw bytes
// ReadHeader makes, and the raw bytes are the input's own where its lines
// end in CRLF, as ReadHeader's copies do. Any other block (no blank line
// before the end of the input, a field without a colon or with a bad
// name, a first line that is a continuation) is left to ReadHeader, whose
// answer there depends on the end of its input.

// minBufSize is bufio's smallest buffer: NewReaderSize gives no less.
const minBufSize = 16

// readHeaderBlock reads the header block at the start of b as ReadHeader
// would through a bufio.Reader of bufSize bytes over b. It returns the
// header, the length of the block (its blank line included), how many
// bytes of b that reader would have read (the walker counts them as
// scanned), and false when the block is one it leaves to ReadHeader.
func readHeaderBlock(b []byte, bufSize int) (h textproto.Header, n, read int, ok bool) {
	if len(b) > 0 && isBlank(b[0]) {
		return textproto.Header{}, 0, 0, false // a malformed first line: ReadHeader's error
	}
	bufSize = max(bufSize, minBufSize)
	var spans [32][2]int // each field's start and end in b
	fields := spans[:0]
	read = min(bufSize, len(b)) // ReadHeader peeks at the first byte
	pos := 0
	for {
		end, r, found := lineEnd(b, pos, read, bufSize)
		if !found {
			return textproto.Header{}, 0, 0, false
		}
		read = r
		if end-pos == 1 || end-pos == 2 && b[pos] == '\r' {
			n = end // the blank line
			break
		}
		start := pos
		for {
			pos = end
			// The next line continues the field if it begins with a
			// blank. (ReadHeader reads that byte, filling the buffer
			// from pos if it must, as lineEnd does next.)
			if pos == len(b) || !isBlank(b[pos]) {
				break
			}
			if end, read, found = lineEnd(b, pos, read, bufSize); !found {
				return textproto.Header{}, 0, 0, false
			}
		}
		fields = append(fields, [2]int{start, pos})
	}
	for _, f := range fields {
		colon := bytes.IndexByte(b[f[0]:f[1]], ':')
		if colon < 0 {
			return textproto.Header{}, 0, 0, false // ReadHeader's "malformed MIME header line"
		}
		for _, c := range bytes.Trim(b[f[0]:f[0]+colon], " \t") {
			if c < 33 || c > 126 {
				return textproto.Header{}, 0, 0, false // ReadHeader's "malformed MIME header key"
			}
		}
	}
	return newHeader(b[:n], fields), n, read, true
}

// lineEnd finds the end of the line at b[pos:], just past its "\n", as
// bufio.Reader.ReadSlice does with a buffer of bufSize bytes that holds b
// up to read; it returns how far into b the reader has read once it has
// the line, and false if the line has no end in b.
func lineEnd(b []byte, pos, read, bufSize int) (end, readTo int, found bool) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return 0, read, false
	}
	nl := pos + i
	for nl >= read {
		if read-pos < bufSize {
			read = min(pos+bufSize, len(b)) // fill: the line's start slides to the front
			continue
		}
		// A full buffer: ReadLine returns it as a prefix of the line,
		// keeping back a "\r" at its end, and the next read goes on from there.
		pos += bufSize
		if b[pos-1] == '\r' {
			pos--
		}
	}
	return nl + 1, read, true
}

// crlfLines returns the lines of a field as ReadHeader keeps them: each
// ending in CRLF. Lines that do already are kept as they are, not copied.
func crlfLines(field []byte) []byte {
	bare := 0
	for i, c := range field {
		if c == '\n' && (i == 0 || field[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return field
	}
	out := make([]byte, 0, len(field)+bare)
	for i, c := range field {
		if c == '\n' && (i == 0 || field[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// A textproto.Header is a list of fields and a map of them by name, and
// each field holds its name, its value and its raw bytes (AddRaw's kv).
// AddRaw adds one field at a time, allocating each field, its name, its
// value, and the list and map as they grow: a dozen allocations per field
// of a header parsed in a few hundred nanoseconds. newHeader builds the
// same header with a handful, in the layout below, which must be
// go-message's own: headerLayoutOK checks it by name, type and offset,
// and newHeader falls back to AddRaw if a go-message upgrade changed it
// (TestHeaderLayout fails then), as lines.go does for go-smtp's fields.

// goHeader is textproto.Header's layout: its fields, last first, and
// by canonical name, each name's last first.
type goHeader struct {
	l []*goField
	m map[string][]*goField
}

// goField is textproto.headerField's layout.
type goField struct {
	b    []byte // the raw field: its lines, each ending in CRLF
	k, v string // canonical name, value with its lines joined
}

var headerLayoutOK = func() bool {
	h := reflect.TypeFor[textproto.Header]()
	if h.Kind() != reflect.Struct || h.NumField() != 2 || h.Size() != unsafe.Sizeof(goHeader{}) {
		return false
	}
	l, m := h.Field(0), h.Field(1)
	if l.Name != "l" || l.Offset != unsafe.Offsetof(goHeader{}.l) || l.Type.Kind() != reflect.Slice ||
		m.Name != "m" || m.Offset != unsafe.Offsetof(goHeader{}.m) || m.Type.Kind() != reflect.Map ||
		m.Type.Key() != reflect.TypeFor[string]() || m.Type.Elem() != l.Type {
		return false
	}
	p := l.Type.Elem()
	if p.Kind() != reflect.Pointer || p.Elem().Kind() != reflect.Struct {
		return false
	}
	f := p.Elem()
	want := reflect.TypeFor[goField]()
	if f.NumField() != want.NumField() || f.Size() != want.Size() {
		return false
	}
	for i := range f.NumField() {
		got, w := f.Field(i), want.Field(i)
		if got.Name != w.Name || got.Type != w.Type || got.Offset != w.Offset {
			return false
		}
	}
	return true
}()

// newHeader returns the header of the fields of block (spans of it, each
// a name, a colon and a value, on one line or more), as ReadHeader reads
// them. Names and values are substrings of one copy of the block where
// they can be: a name already canonical, a value on one line.
func newHeader(block []byte, spans [][2]int) textproto.Header {
	if !headerLayoutOK {
		var h textproto.Header
		for i := len(spans) - 1; i >= 0; i-- {
			if kv := crlfLines(block[spans[i][0]:spans[i][1]:spans[i][1]]); nameOf(kv) != "" {
				h.AddRaw(kv)
			}
		}
		return h
	}
	text := string(block)
	fields := make([]goField, 0, len(spans))
	for _, sp := range spans {
		raw := text[sp[0]:sp[1]]
		colon := strings.IndexByte(raw, ':')
		name := nettextproto.CanonicalMIMEHeaderKey(strings.Trim(raw[:colon], " \t"))
		if name == "" {
			continue // ReadHeader skips a field with an empty name
		}
		fields = append(fields, goField{
			b: crlfLines(block[sp[0]:sp[1]:sp[1]]),
			k: name,
			v: joinLines(raw[colon+1:]),
		})
	}
	if len(fields) == 0 {
		return textproto.Header{}
	}
	h := goHeader{l: make([]*goField, len(fields)), m: make(map[string][]*goField, len(fields))}
	// Each name's list is cut from one array, with room for one field;
	// a name that comes again (Received) grows its own.
	byName := make([]*goField, len(fields))
	for i := range fields {
		f := &fields[len(fields)-1-i]
		h.l[i] = f
		if named := h.m[f.k]; named != nil {
			h.m[f.k] = append(named, f)
		} else {
			byName[i] = f
			h.m[f.k] = byName[i : i+1 : i+1]
		}
	}
	return *(*textproto.Header)(unsafe.Pointer(&h))
}

// nameOf returns the canonical name of a raw field.
func nameOf(kv []byte) string {
	colon := bytes.IndexByte(kv, ':')
	return nettextproto.CanonicalMIMEHeaderKey(string(bytes.Trim(kv[:colon], " \t")))
}

// joinLines returns a field's value as go-message makes it of its lines:
// each line without its line end ("\n" and one "\r" before it) and
// trimmed of blanks, the lines that are not empty joined by spaces.
func joinLines(v string) string {
	var b strings.Builder
	var first string // the first line that is not empty
	lines := 0
	for len(v) > 0 {
		line := v
		if i := strings.IndexByte(v, '\n'); i >= 0 {
			line, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if line = strings.Trim(strings.TrimSuffix(line, "\r"), " \t"); line == "" {
			continue
		}
		switch lines++; lines {
		case 1:
			first = line
			continue
		case 2:
			b.Grow(len(first) + 1 + len(line) + len(v)) // the most the value can take
			b.WriteString(first)
		}
		b.WriteByte(' ')
		b.WriteString(line)
	}
	if lines <= 1 {
		return first // a substring of v: nothing to copy
	}
	return b.String()
}
