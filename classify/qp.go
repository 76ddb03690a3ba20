package classify

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// decodeQP returns what mime/quotedprintable's Reader, reading s through a
// bufio.Reader of goBufSize, yields before its first error, up to n bytes.
// It decodes the bytes in place of the Reader's byte-at-a-time loop over
// a buffered copy; its leniencies (RFC 2045 s6.7 bent as the Reader bends
// it) are the Reader's:
//   - a soft line break is "=" at the end of a line, white space after it
//     allowed, or at the end of the input;
//   - "=" not followed by two hex digits (either case) stays a literal "=",
//     unless a line end follows it, where decoding stops;
//   - bytes from 0x80 on pass; other control bytes but tab, CR and LF stop
//     decoding;
//   - white space at the end of a line is dropped, and a line longer than
//     the buffer stops decoding after it.
//
// It also returns how many bytes of s it read.
func decodeQP(s stream, n int) (out []byte, read int) {
	out = make([]byte, 0, min(len(s.b), n))
	b := s.b
	for len(out) < n {
		// A line as bufio.Reader.ReadSlice('\n') returns it, and the error.
		var line []byte
		var rerr error
		if i := bytes.IndexByte(limit(b, goBufSize), '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else if len(b) >= goBufSize {
			line, b, rerr = b[:goBufSize], b[goBufSize:], bufio.ErrBufferFull
		} else {
			line, b, rerr = b, nil, s.end
		}
		// The Reader drops white space at the end of the line and puts
		// back the line end, or drops a soft line break.
		text := bytes.TrimRight(line, "\n\r \t")
		end := ""
		if bytes.HasSuffix(text, []byte("=")) {
			after := bytes.TrimLeft(line[len(text):], " \t")
			text = text[:len(text)-1]
			if !bytes.HasPrefix(after, []byte("\n")) && !bytes.HasPrefix(after, []byte("\r\n")) &&
				!(len(after) == 0 && len(text) > 0 && rerr == io.EOF) {
				rerr = errBadSoftBreak
			}
		} else if bytes.HasSuffix(line, []byte("\r\n")) {
			end = "\r\n"
		} else if bytes.HasSuffix(line, []byte("\n")) {
			end = "\n"
		}
		// at is the Reader's line: text, then end.
		at := func(i int) byte {
			if i < len(text) {
				return text[i]
			}
			return end[i-len(text)]
		}
		size := len(text) + len(end)
		for i := 0; i < size && len(out) < n; i++ {
			c := at(i)
			switch {
			case c == '=':
				if i+2 < size {
					if hi, ok := unhex(at(i + 1)); ok {
						if lo, ok := unhex(at(i + 2)); ok {
							c = hi<<4 | lo
							i += 2
							break
						}
					}
				}
				// Not a hex pair: a literal "=", unless a line end or
				// nothing follows, where the Reader fails.
				if i+1 >= size || at(i+1) == '\r' || at(i+1) == '\n' {
					return out, len(s.b) - len(b)
				}
			case c == '\t' || c == '\r' || c == '\n' || c >= 0x80:
			case c < ' ' || c > '~':
				return out, len(s.b) - len(b)
			}
			out = append(out, c)
		}
		if rerr != nil {
			return out, len(s.b) - len(b)
		}
	}
	return out, len(s.b) - len(b)
}

var errBadSoftBreak = errors.New("classify: bytes after a soft line break")

// unhex is the Reader's fromHex: it accepts lower-case digits too.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
