package classify

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// walkBoth reads the parts of raw with the walker and with go-message's
// Walk. left reports that the walker left the message to go-message.
func walkBoth(raw []byte) (lean, walked []part, left bool) {
	raw = stripMboxLine(raw)
	m := &message{}
	w := newWalker(m, len(raw))
	h, body, err := w.readTopHeader(raw)
	if err != nil {
		return nil, nil, false // parseMessage does not walk: nothing to compare
	}
	mt, params, _ := h.ContentType()
	left = w.entity(h, mt, params, body, 0) == errLeaveToGoMessage
	ref := &message{}
	walkGoMessage(ref, raw)
	return m.parts, ref.parts, left
}

// partsDiffer describes the first difference between two readings.
func partsDiffer(lean, walked []part) string {
	if len(lean) != len(walked) {
		return fmt.Sprintf("%d parts, go-message %d", len(lean), len(walked))
	}
	for i := range lean {
		a, b := lean[i], walked[i]
		var ha, hb bytes.Buffer
		_ = textproto.WriteHeader(&ha, a.header.Header)
		_ = textproto.WriteHeader(&hb, b.header.Header)
		switch {
		case a.mediaType != b.mediaType:
			return fmt.Sprintf("part %d: type %q, go-message %q", i, a.mediaType, b.mediaType)
		case !reflect.DeepEqual(a.params, b.params):
			return fmt.Sprintf("part %d: params %v, go-message %v", i, a.params, b.params)
		case !bytes.Equal(ha.Bytes(), hb.Bytes()):
			return fmt.Sprintf("part %d: header %q, go-message %q", i, ha.Bytes(), hb.Bytes())
		case !bytes.Equal(a.body, b.body):
			return fmt.Sprintf("part %d: body %q, go-message %q", i, a.body, b.body)
		}
	}
	return ""
}

// The walker reads every fixture and corpus message as go-message does,
// and itself: none is left to go-message.
func TestWalkerReadsAsGoMessage(t *testing.T) {
	var files []string
	for _, pattern := range []string{filepath.Join(goldenDir, "*.eml"), filepath.Join(corpusDir, "*.eml")} {
		names, _ := filepath.Glob(pattern)
		files = append(files, names...)
	}
	if len(files) == 0 {
		t.Fatal("no messages to read")
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lean, walked, left := walkBoth(raw)
		if left {
			t.Errorf("%s: left to go-message", name)
		} else if d := partsDiffer(lean, walked); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
}

// Malformed and unusual structures, each read as go-message reads it.
var walkerCases = map[string]string{
	"plain":              "Subject: x\r\n\r\nhello\r\n",
	"no-body":            "Subject: x\r\n",
	"no-blank-line-end":  "Subject: x",
	"multipart":          "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n",
	"lf-only":            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\n--b\n\ntwo\n--b--\n",
	"crlf-then-lf":       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\n--b\n\ntwo\r\n--b--\r\n",
	"lf-then-crlf":       "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\r\n--b\r\n\r\ntwo\n--b--\n",
	"no-final":           "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n",
	"final-no-newline":   "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b--",
	"ends-in-boundary":   "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b",
	"ends-in-prefix":     "Content-Type: multipart/mixed; boundary=bound\r\n\r\n--bound\r\n\r\none\r\n--bo",
	"ends-in-cr":         "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r",
	"empty-body":         "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\n\r\ntwo\r\n--b--\r\n",
	"dash-not-boundary":  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--bx\r\n--b--\r\n",
	"boundary-prefix":    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--bx\r\nstill one\r\n--b--\r\n",
	"boundary-blanks":    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \t\r\n\r\none\r\n--b\t\r\n\r\ntwo\r\n--b-- \r\n",
	"boundary-dash":      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b-x\r\n\r\ntwo\r\n--b--\r\n",
	"bad-part-header":    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nnot a header\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n",
	"header-runs-on":     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b\r\n\r\ntwo\r\n--b--\r\n",
	"header-to-eof":      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n",
	"header-partial-eof": "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/pl",
	"junk-between":       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n\r\njunk\r\n--b\r\n\r\ntwo\r\n--b--\r\n",
	"no-boundary":        "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\none\r\n--b--\r\n",
	"bad-content-type":   "Content-Type: multipart/mixed; boundary\r\n\r\n--b\r\n\r\none\r\n--b--\r\n",
	"upper-bad-type":     "Content-Type: Multipart/Mixed; boundary\r\n\r\n--b\r\n\r\none\r\n--b--\r\n",
	"upper-type":         "Content-Type: Multipart/Mixed; boundary=b\r\n\r\n--b\r\nContent-Type: Text/Plain\r\n\r\none\r\n--b--\r\n",
	"nested": "Content-Type: multipart/report; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nplain\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--i--\r\n" +
		"--o\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\n--o--\r\n",
	"nested-unclosed": "Content-Type: multipart/report; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nplain\r\n" +
		"--o\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\n--o--\r\n",
	"nested-ends-early": "Content-Type: multipart/report; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n" +
		"--o\r\n\r\ntwo\r\n--o--\r\n",
	"nested-header-eof":    "Content-Type: multipart/report; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nA: b\r\n--o--\r\n",
	"nested-header-at-end": "Content-Type: multipart/report; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n",
	"qp-soft-unclosed":     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nend=",
	"qp":                   "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\n break =3D x=\r\n--b\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nbad =ZZ escape\r\n--b--\r\n",
	"qp-soft-eof":          "Content-Transfer-Encoding: quoted-printable\r\n\r\nend=",
	"qp-long-line":         "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("x", 5000) + "\r\nnext\r\n",
	"base64":               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\n d29y bGQ=\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsb!G8=\r\n--b--\r\n",
	"base64-padded-mid":    "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\naGk=\r\n",
	"base64-partial":       "Content-Transfer-Encoding: base64\r\n\r\naGVsbG",
	"unknown-encoding":     "Content-Transfer-Encoding: x-uuencode\r\n\r\nbody\r\n",
	"charset-latin1":       "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n",
	"charset-sjis":         "Content-Type: text/plain; charset=Shift_JIS\r\n\r\n\x82\xa0\r\n",
	"charset-unknown":      "Content-Type: text/plain; charset=x-nothing\r\n\r\nbody\r\n",
	"charset-empty":        "Content-Type: text/plain; charset=\"\"\r\n\r\nbody\r\n",
	"charset-not-text":     "Content-Type: message/delivery-status; charset=iso-8859-1\r\n\r\nStatus: 5.0.0 \xe9\r\n",
	"long-preamble-line":   "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("p", 5000) + "\r\n--b\r\n\r\none\r\n--b--\r\n",
	"preamble-4095":        "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("p", 4094) + "\n--b\r\n\r\none\r\n--b--\r\n",
	"long-header-line":     "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Long: " + strings.Repeat("h", 9000) + "\r\n\r\none\r\n--b--\r\n",
	"long-boundary":        "Content-Type: multipart/mixed; boundary=" + strings.Repeat("b", 1200) + "\r\n\r\n--" + strings.Repeat("b", 1200) + "\r\n\r\none\r\n",
	"long-last-line":       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("z", 4096),
	"attachment":           "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--b--\r\n",
	"mbox":                 "From someone Mon Jan 1 00:00:00 2026\r\nSubject: x\r\n\r\nhello\r\n",
	"part-limit":           "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 70) + "--b--\r\n",
}

func TestWalkerEdgeCases(t *testing.T) {
	for name, raw := range walkerCases {
		lean, walked, left := walkBoth([]byte(raw))
		if left {
			continue // go-message reads it
		}
		if d := partsDiffer(lean, walked); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
}

// FuzzWalker: the walker reads any input as go-message's Walk does.
// Run: go test ./classify -run '^$' -fuzz FuzzWalker -fuzztime 5m
func FuzzWalker(f *testing.F) {
	fuzzSeeds(f)
	for _, raw := range walkerCases {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lean, walked, left := walkBoth(raw)
		if left {
			return
		}
		if d := partsDiffer(lean, walked); d != "" {
			t.Error(d)
		}
	})
}

// qpCases are quoted-printable bodies for decodeQP.
var qpCases = []string{
	"", "plain\r\n", "soft=\r\nbreak", "soft=  \r\nbreak", "soft= x\r\n", "end=", "=", "a=\r", "=3D=3d=e9=E9",
	"bad =ZZ escape", "=4\n", "=\r\n=", "x=4", "trailing   \r\nspace\t\n", "ctl \x01 byte", "del \x7f", "high \xe9\xff",
	"cr\rin line\r\n", "a=\rb\n", "=\n\n\n", strings.Repeat("y", 5000) + "\nnext", strings.Repeat("q", 4095) + "=\nx",
}

// decodeQP says what mime/quotedprintable's Reader says, as the walker
// would read it through its buffer, whatever the input's end.
func TestDecodeQP(t *testing.T) {
	for _, s := range qpCases {
		checkDecodeQP(t, []byte(s))
	}
}

func FuzzDecodeQP(f *testing.F) {
	for _, s := range qpCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeQP(t, b) })
}

func checkDecodeQP(t *testing.T, b []byte) {
	t.Helper()
	for _, end := range []error{io.EOF, io.ErrUnexpectedEOF} {
		for _, n := range []int{1 << 20, 7} {
			s := stream{b: b, end: end}
			want, _ := readPart(quotedprintable.NewReader(&streamReader{s: s}), n, nil)
			if got, _ := decodeQP(s, n); !bytes.Equal(got, want) {
				t.Fatalf("decodeQP(%q, %v, %d) = %q, want %q", b, end, n, got, want)
			}
		}
	}
}
