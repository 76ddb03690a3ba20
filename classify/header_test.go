package classify

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// headerBufSizes are the buffer sizes headers are read through: bufio's
// smallest, a few that cut long lines, and the walker's largest.
var headerBufSizes = []int{minBufSize, 17, 64, 100, goBufSize}

// headersDiffer reads the header block at the start of b with
// readHeaderBlock and with ReadHeader through a bufio.Reader of bufSize,
// as the walker did, and describes the first difference, or "" when they
// agree or readHeaderBlock leaves the block to ReadHeader.
func headersDiffer(b []byte, bufSize int) string {
	h, n, read, ok := readHeaderBlock(b, bufSize)
	if !ok {
		return ""
	}
	sr := &streamReader{s: stream{b: b, end: errHeaderTooBig}} // any end: the block ends before it
	br := bufio.NewReaderSize(sr, bufSize)
	want, err := textproto.ReadHeader(br)
	if err != nil {
		return fmt.Sprintf("ReadHeader fails (%v) where readHeaderBlock reads %d fields", err, h.Len())
	}
	var got, ref bytes.Buffer
	_ = textproto.WriteHeader(&got, h)
	_ = textproto.WriteHeader(&ref, want)
	switch wantN := sr.off - br.Buffered(); {
	case got.String() != ref.String():
		return fmt.Sprintf("header %q, ReadHeader %q", got.String(), ref.String())
	case n != wantN:
		return fmt.Sprintf("block of %d bytes, ReadHeader %d", n, wantN)
	case read != sr.off:
		return fmt.Sprintf("%d bytes read, ReadHeader %d", read, sr.off)
	}
	fs, rs := h.Fields(), want.Fields()
	for fs.Next() {
		if !rs.Next() || fs.Key() != rs.Key() || fs.Value() != rs.Value() {
			return fmt.Sprintf("field %q: %q differs from ReadHeader's", fs.Key(), fs.Value())
		}
		if got, want := h.Values(fs.Key()), want.Values(fs.Key()); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			return fmt.Sprintf("values of %q: %q, ReadHeader %q", fs.Key(), got, want)
		}
	}
	return ""
}

// Every header of the fixtures and the corpora, the top one and each
// part's, reads the same through readHeaderBlock as through ReadHeader,
// whatever the buffer; so do the awkward blocks below.
func TestHeaderBlockReadsAsReadHeader(t *testing.T) {
	var inputs [][]byte
	for _, pattern := range []string{filepath.Join(goldenDir, "*.eml"), filepath.Join(corpusDir, "*.eml"), filepath.Join(fluflDir, "*.txt")} {
		names, _ := filepath.Glob(pattern)
		for _, name := range names {
			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			raw = stripMboxLine(raw)
			inputs = append(inputs, raw)
			// Each part's header: what follows a boundary line.
			for i := bytes.Index(raw, []byte("\n--")); i >= 0; {
				rest := raw[i+1:]
				if j := bytes.IndexByte(rest, '\n'); j >= 0 {
					inputs = append(inputs, rest[j+1:])
				}
				k := bytes.Index(rest, []byte("\n--"))
				if k < 0 {
					break
				}
				i += 1 + k
			}
		}
	}
	if len(inputs) < 300 {
		t.Fatalf("only %d headers to read: fixtures or corpus missing", len(inputs))
	}
	long := strings.Repeat("x", 150)
	for _, s := range []string{
		"", "\r\n", "\n", "A: b\r\n\r\nbody", "A: b\n\nbody", "A: b\r\n", "A: b",
		"A: b\r\n c\r\n\td\r\n\r\n", "A: b\n c\n\n", "A: b\r\n c\n\r\n", "a-b: x\r\nA-B: y\r\nc: z\r\n\r\n",
		" A: b\r\n\r\n", "A b\r\n\r\n", "A b: c\r\n\r\n", ": b\r\nC: d\r\n\r\n", "A : b\r\n\r\n",
		"A\r\n : b\r\n\r\n", "A: b\r\r\n\r\n", "A: b\r\n\r\r\n\r\n", "A: " + long + "\r\n\r\n",
		"A: " + long + "\r\n " + long + "\r\nB: " + long + "\n\n", "X: " + strings.Repeat("y\r", 90) + "\r\n\r\n",
		"A:\xff\x00\r\n\r\n", "\xff: b\r\n\r\n", "A: b\r\n \r\n\r\n",
	} {
		inputs = append(inputs, []byte(s))
	}
	read := 0
	for _, b := range inputs {
		for _, size := range headerBufSizes {
			if _, _, _, ok := readHeaderBlock(b, size); ok {
				read++
			}
			if d := headersDiffer(b, size); d != "" {
				t.Fatalf("buffer %d, %q: %s", size, limit(b, 200), d)
			}
		}
	}
	// The fallback for a go-message whose Header is laid out otherwise.
	defer func(ok bool) { headerLayoutOK = ok }(headerLayoutOK)
	headerLayoutOK = false
	for _, b := range inputs {
		if d := headersDiffer(b, goBufSize); d != "" {
			t.Fatalf("with AddRaw, %q: %s", limit(b, 200), d)
		}
	}
	if 2*read < len(inputs)*len(headerBufSizes) { // most blocks are read here, not left to ReadHeader
		t.Fatalf("readHeaderBlock read only %d of %d blocks", read, len(inputs)*len(headerBufSizes))
	}
}

// newHeader builds go-message's Header itself: its layout is the one
// goHeader mirrors. If this fails after a go-message upgrade, headers are
// still read right (through AddRaw), only slower: update goHeader.
func TestHeaderLayout(t *testing.T) {
	if !headerLayoutOK {
		t.Fatal("textproto.Header is not laid out as goHeader")
	}
}

// FuzzHeaderBlock: readHeaderBlock reads any block it takes as ReadHeader does.
// Run: go test ./classify -run '^$' -fuzz FuzzHeaderBlock -fuzztime 5m
func FuzzHeaderBlock(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte("A: b\r\n c\n\td\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, size := range headerBufSizes {
			if d := headersDiffer(b, size); d != "" {
				t.Fatalf("buffer %d: %s", size, d)
			}
		}
	})
}
