package classify

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// The MIME walker reads the parts of a message as go-message's Entity.Walk
// does (RFC 2046 s5.1), with the same answer for every input, but on the
// raw bytes: a multipart body is cut at its boundaries by searching the
// bytes, where Walk pipes it through a chain of readers (a 4 KiB buffer per
// multipart level and per encoded part, a header parse per part repeated
// in New), and a part is decoded only if it is kept. Headers are read as
// go-message's textproto.ReadHeader reads them (header.go), and charsets
// converted by its charset readers.
//
// Walk's quirks are kept on purpose, since verdicts rest on them: an error
// anywhere (a part header that is not one, a multipart body that ends
// without its closing boundary) ends the whole walk, keeping the parts read
// so far; a content type that does not parse is taken whole as the media
// type; a multipart body is never transfer-decoded. Where go-message's
// answer depends on how its buffers happen to meet the input (see
// needsGoMessage), parseMessage lets go-message read the message instead.

// A stream is what a go-message reader yields: bytes, then an error, io.EOF
// at the end of the message or at a part's boundary, or the error of a
// part whose input ended before its boundary.
type stream struct {
	b   []byte
	end error
}

// streamReader reads a stream. It is not a bytes.Reader because the error
// at the end is not always io.EOF, and the decoders act on the difference.
type streamReader struct {
	s   stream
	off int
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.off >= len(r.s.b) {
		return 0, r.s.end
	}
	n := copy(p, r.s.b[r.off:])
	r.off += n
	return n, nil
}

// goBufSize is the size of the buffers go-message reads through (bufio's
// default): lines longer than that end a multipart body, a quoted-printable
// part, and so here too.
const goBufSize = 4096

// maxBoundary bounds the boundaries the walker reads itself. RFC 2046
// allows 70 bytes; go-message's reader cuts parts the same way as a search
// of the bytes does as long as a boundary line fits its buffer many times.
const maxBoundary = 1000

var (
	// errStopWalk ends the walk where Walk would return an error.
	errStopWalk = errors.New("classify: stop reading parts")
	// errLeaveToGoMessage marks input whose reading by go-message the
	// walker does not reproduce.
	errLeaveToGoMessage = errors.New("classify: input for go-message's reader")
	// errHeaderTooBig is what go-message's reader returns past MaxHeaderBytes.
	errHeaderTooBig = errors.New("classify: header too big")
)

// walker holds the state of one message's walk.
type walker struct {
	m *message
	// bufSize is the size of the buffer go-message's reader would read
	// the message's headers through; br is that buffer, made for the
	// headers readHeaderBlock leaves to ReadHeader.
	bufSize int
	br      *bufio.Reader
	sr      streamReader
	total   int
	scratch []byte
	// entities counts the parts visited, multipart ones included.
	entities int
	// scanned counts the bytes read or searched; past budget the walk
	// stops (see scanBudget).
	scanned, budget int
}

// newWalker returns the walker of a message of size bytes. Its buffer is
// smaller than go-message's for a message shorter than goBufSize: a
// buffer larger than its input reads it as any other does.
func newWalker(m *message, size int) *walker {
	return &walker{m: m, bufSize: min(size+1, goBufSize), budget: scanBudget(size)}
}

// scanBudget is how many bytes the walker may read or search in a message
// of size bytes. A multipart body is searched once for its own boundary
// at each level it is nested in, so a message nested as deep as maxDepth
// allows could cost maxDepth times its size; a bounce, two or three levels
// deep, never comes near the budget.
func scanBudget(size int) int { return 4*size + 4<<20 }

// scan counts n bytes read or searched. Past the budget, or once the
// message's context is done (looked at every 64 KiB), it returns
// errStopWalk: the walk ends with the parts read so far.
func (w *walker) scan(n int) error {
	charge(n)
	before := w.scanned
	w.scanned += n
	if w.scanned > w.budget {
		w.m.cutShort(cutScanBudget)
		return errStopWalk
	}
	if before>>16 != w.scanned>>16 && w.m.cancelled() {
		return errStopWalk
	}
	return nil
}

// readHeader reads a header block at the start of s as go-message's
// parser does and returns it and the length of the block.
func (w *walker) readHeader(s stream) (gomessage.Header, int, error) {
	if h, n, read, ok := readHeaderBlock(s.b, w.bufSize); ok {
		return gomessage.Header{Header: h}, n, w.scan(read)
	}
	if w.br == nil {
		w.br = bufio.NewReaderSize(nil, w.bufSize)
	}
	w.sr = streamReader{s: s}
	w.br.Reset(&w.sr)
	h, err := textproto.ReadHeader(w.br)
	if serr := w.scan(w.sr.off); serr != nil && err == nil {
		err = serr
	}
	return gomessage.Header{Header: h}, w.sr.off - w.br.Buffered(), err
}

// readTopHeader reads the message header as gomessage.ReadWithOptions does
// with MaxHeaderBytes: maxHeaderBytes, and returns it and the body.
func (w *walker) readTopHeader(raw []byte) (gomessage.Header, stream, error) {
	s := stream{b: raw, end: io.EOF}
	if len(raw) >= maxHeaderBytes {
		s = stream{b: raw[:maxHeaderBytes], end: errHeaderTooBig}
	}
	h, n, err := w.readHeader(s)
	return h, stream{b: raw[n:], end: io.EOF}, err
}

// entity visits one entity as Walk and parseMessage's walk function did:
// a leaf is decoded and kept, a multipart body walked. mt and params are
// what h.ContentType returned; depth is how many multipart bodies hold the
// entity.
func (w *walker) entity(h gomessage.Header, mt string, params map[string]string, body stream, depth int) error {
	if cut := entityLimit(w.entities, w.total); cut != "" {
		w.m.cutShort(cut)
		return errStopWalk
	}
	w.entities++
	lower := strings.ToLower(mt)
	if lower == "" {
		lower = "text/plain"
	}
	if !strings.HasPrefix(lower, "multipart/") {
		p := part{mediaType: lower, params: params, header: h}
		if n := partLimit(lower); n > 0 {
			b, err := w.decode(h, mt, params, body, n)
			if err != nil {
				return err
			}
			p.body = b
			w.total += len(b)
		}
		w.m.parts = append(w.m.parts, p)
		return nil
	}
	// Walk descends only into what go-message itself calls multipart: a
	// type that did not parse keeps its case.
	if !strings.HasPrefix(mt, "multipart/") {
		return nil
	}
	if depth >= maxDepth {
		w.m.cutShort(cutDepth) // skipped, its siblings still read
		return nil
	}
	return w.multipart(body, params["boundary"], depth)
}

// entityLimit says why no more entities are read, given how many were
// and how much text they gave, or "".
func entityLimit(entities, text int) string {
	switch {
	case entities >= maxParts:
		return cutParts
	case text >= maxTotalReadText:
		return cutText
	}
	return ""
}

// decode returns at most n bytes of a leaf's body, transfer-decoded and,
// for text, converted from its charset, as go-message's New does. Bodies
// that need neither are the input's own bytes, not copied: no decoder
// writes to a part's body.
func (w *walker) decode(h gomessage.Header, mt string, params map[string]string, body stream, n int) ([]byte, error) {
	// RFC 2046 s4.1.2: a charset applies to text/* only.
	charset := ""
	if ch, ok := params["charset"]; ok && strings.HasPrefix(mt, "text/") {
		if ch = strings.ToLower(ch); ch != "utf-8" && ch != "us-ascii" && gomessage.CharsetReader != nil {
			charset = ch
		}
	}
	var r io.Reader
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		if charset == "" {
			b, read := decodeQP(body, n)
			return b, w.scan(read)
		}
		w.sr = streamReader{s: body}
		// The Reader's own buffer: the lines it takes as too long are
		// those of its size.
		r = quotedprintable.NewReader(&w.sr)
	case "base64":
		if err := w.scan(len(body.b)); err != nil {
			return nil, err
		}
		if paddingInside(body.b) {
			return nil, errLeaveToGoMessage
		}
		w.sr = streamReader{s: body}
		r = base64.NewDecoder(base64.StdEncoding, blanksToNewlines{&w.sr})
	}
	if charset != "" {
		if r == nil {
			w.sr = streamReader{s: body}
			r = &w.sr
		}
		if cr, err := gomessage.CharsetReader(charset, r); err == nil {
			r = cr // an unknown charset leaves the bytes as they are
		}
	}
	if r == nil {
		b := limit(body.b, n)
		return b[:len(b):len(b)], nil // an append to it cannot write over the input
	}
	var b []byte
	b, w.scratch = readPart(r, n, w.scratch)
	return b, w.scan(w.sr.off)
}

// paddingInside reports whether base64 text goes on after a padding "=".
// base64's decoder reads such text as far as the chunks its input came in
// let it, which only go-message's own readers reproduce.
func paddingInside(b []byte) bool {
	i := bytes.IndexByte(b, '=')
	if i < 0 {
		return false
	}
	for _, c := range b[i:] {
		switch c {
		case '=', ' ', '\t', '\r', '\n':
		default:
			return true
		}
	}
	return false
}

// blanksToNewlines is go-message's whitespaceReplacingReader: base64 bodies
// indented with blanks decode as if the blanks were line breaks.
type blanksToNewlines struct{ r io.Reader }

func (b blanksToNewlines) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	for i, c := range p[:n] {
		if c == ' ' || c == '\t' {
			p[i] = '\n'
		}
	}
	return n, err
}

// multipartBody holds the delimiters of one multipart body, as
// go-message's textproto.MultipartReader does: nl is "\r\n" until the
// first boundary line ends in a bare "\n".
type multipartBody struct {
	dash, dashDash, nl, nlDash []byte
	partsRead                  int
}

// multipart walks the parts of a multipart body at the given depth, as
// Walk does with go-message's MultipartReader.NextPart.
func (w *walker) multipart(s stream, boundary string, depth int) error {
	if boundary == "" {
		return errStopWalk // NextPart: "boundary is empty"
	}
	if err := w.scan(lastLineLen(s.b)); err != nil {
		return err
	}
	if needsGoMessage(s, boundary) {
		return errLeaveToGoMessage
	}
	b := []byte("\r\n--" + boundary + "--")
	mb := multipartBody{dash: b[2 : len(b)-2], dashDash: b[2:], nl: b[:2], nlDash: b[:len(b)-2]}
	pos := 0
	for {
		// Find the next boundary line, as NextPart does after discarding
		// the rest of the part before.
		expectNewPart := false
		for {
			before := pos
			line, err := nextLine(s, &pos)
			if err := w.scan(max(pos-before, len(line))); err != nil {
				return err
			}
			if err == io.EOF && mb.isFinalBoundary(line) {
				return nil
			}
			if err != nil {
				return errStopWalk
			}
			if mb.isBoundaryDelimiterLine(line) {
				mb.partsRead++
				break
			}
			if mb.isFinalBoundary(line) {
				return nil
			}
			if expectNewPart {
				return errStopWalk
			}
			if mb.partsRead == 0 {
				continue // preamble
			}
			if bytes.Equal(line, mb.nl) {
				expectNewPart = true
				continue
			}
			return errStopWalk
		}
		h, n, err := w.readHeader(stream{b: s.b[pos:], end: s.end})
		if err == io.EOF {
			return nil // NextPart reports the end of the parts
		}
		if err != nil {
			return errStopWalk
		}
		start := pos + n
		end, searched, endErr := mb.scanPart(s, start)
		if err := w.scan(searched); err != nil {
			return err
		}
		pos = end
		mt, params, _ := h.ContentType()
		if err := w.entity(h, mt, params, stream{b: s.b[start:end], end: endErr}, depth+1); err != nil {
			return err
		}
	}
}

// needsGoMessage reports a multipart body whose reading by go-message
// depends on its buffers: a boundary longer than maxBoundary or holding a
// line break, or a last line without its end as long as a buffer, where
// the result depends on whether the end of the input came with the last
// bytes or after them.
func needsGoMessage(s stream, boundary string) bool {
	if len(boundary) > maxBoundary || strings.ContainsAny(boundary, "\r\n") {
		return true
	}
	return lastLineLen(s.b) >= goBufSize
}

// lastLineLen is the length of the bytes after the last "\n".
func lastLineLen(b []byte) int {
	return len(b) - 1 - bytes.LastIndexByte(b, '\n')
}

// nextLine returns the next line of s from pos, with its end, as
// bufio.Reader.ReadSlice('\n') does on a goBufSize buffer.
func nextLine(s stream, pos *int) ([]byte, error) {
	rest := s.b[*pos:]
	if i := bytes.IndexByte(limit(rest, goBufSize), '\n'); i >= 0 {
		*pos += i + 1
		return rest[:i+1], nil
	}
	if len(rest) >= goBufSize {
		return nil, bufio.ErrBufferFull
	}
	*pos = len(s.b)
	return rest, s.end
}

// isBoundaryDelimiterLine is go-message's: "--boundary", blanks, and the
// line end, which on the first boundary line may be a bare "\n" and then
// is for the whole body.
func (mb *multipartBody) isBoundaryDelimiterLine(line []byte) bool {
	if !bytes.HasPrefix(line, mb.dash) {
		return false
	}
	rest := skipBlanks(line[len(mb.dash):])
	if mb.partsRead == 0 && len(rest) == 1 && rest[0] == '\n' {
		mb.nl = mb.nl[1:]
		mb.nlDash = mb.nlDash[1:]
	}
	return bytes.Equal(rest, mb.nl)
}

// isFinalBoundary matches `^--boundary--[ \t]*(\r\n)?$`, the line end
// being the body's.
func (mb *multipartBody) isFinalBoundary(line []byte) bool {
	if !bytes.HasPrefix(line, mb.dashDash) {
		return false
	}
	rest := skipBlanks(line[len(mb.dashDash):])
	return len(rest) == 0 || bytes.Equal(rest, mb.nl)
}

func skipBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// scanPart finds the end of the part whose body starts at s.b[start:]:
// the line end before the next boundary, which is "--boundary" followed by
// a blank, a line end, a "-" or the end of the input. It returns where the
// part's bytes end and the error its reader returns there: io.EOF at a
// boundary; when the input ends first, the input's error, io.EOF becoming
// io.ErrUnexpectedEOF, with a last line that could have begun a boundary
// left out. This is go-message's scanUntilBoundary run to the end. It
// also returns how many bytes it searched.
func (mb *multipartBody) scanPart(s stream, start int) (end, searched int, err error) {
	end, err = mb.findPartEnd(s, start)
	if err != io.EOF {
		return end, len(s.b) - start, err // searched to the end
	}
	return end, min(len(s.b), end+len(mb.nlDash)+1) - start, err
}

func (mb *multipartBody) findPartEnd(s stream, start int) (int, error) {
	readErr := s.end
	if readErr == io.EOF {
		readErr = io.ErrUnexpectedEOF
	}
	b := s.b
	q := start
	// A part with an empty body may begin with the boundary itself.
	switch rest := b[start:]; {
	case bytes.HasPrefix(rest, mb.dash):
		if len(rest) == len(mb.dash) || boundaryEnds(rest[len(mb.dash)]) {
			return start, io.EOF
		}
		q += len(mb.dash)
	case bytes.HasPrefix(mb.dash, rest):
		return start, readErr
	}
	for {
		i := bytes.Index(b[q:], mb.nlDash)
		if i < 0 {
			break
		}
		i += q
		if after := i + len(mb.nlDash); after == len(b) || boundaryEnds(b[after]) {
			return i, io.EOF
		}
		q = i + len(mb.nlDash)
	}
	if j := bytes.LastIndexByte(b[q:], mb.nlDash[0]); j >= 0 && bytes.HasPrefix(mb.nlDash, b[q+j:]) {
		return q + j, readErr
	}
	return len(b), readErr
}

func boundaryEnds(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-'
}
