package classify

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestReencodedCorpusReadsTheSame sends every single-part plain-text bounce
// of both dev sets through the transfer encodings and line ends MTAs really
// use, and wants the same recipients and classes as from the original:
// the rules must read the decoded text, whatever carried it (base64 in 76
// columns, quoted-printable with its soft line breaks inside words and
// phrases, CRLF line ends). Every file of the two sets is also read with
// CRLF line ends.
func TestReencodedCorpusReadsTheSame(t *testing.T) {
	paths := corpusFiles(t)
	plain := 0
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		want := verdictKeys(Classify(raw, Input{}))
		if got := verdictKeys(Classify(toCRLF(raw), Input{})); got != want {
			t.Errorf("%s with CRLF line ends: %s, want %s", name, got, want)
		}
		head, body, ok := plainTextSinglePart(raw)
		if !ok {
			continue
		}
		plain++
		for _, enc := range []struct {
			name string
			do   func([]byte) []byte
		}{
			{"base64", encodeBase64},
			{"quoted-printable", encodeQP},
		} {
			m := append(append(bytes.Clone(head), "Content-Transfer-Encoding: "+enc.name+"\n\n"...), enc.do(body)...)
			if got := verdictKeys(Classify(m, Input{})); got != want {
				t.Errorf("%s in %s: %s, want %s", name, enc.name, got, want)
			}
		}
	}
	t.Logf("%d files read with CRLF line ends; %d single-part plain-text bounces also in base64 and quoted-printable", len(paths), plain)
	if plain < 100 {
		t.Errorf("only %d single-part plain-text bounces found; the corpora hold more than 100", plain)
	}
}

// TestFixturesReadTheSameWithCRLF reads every fixture of testdata/classify
// with CRLF line ends, as SMTP carries them, and wants the same recipients
// and classes: a pattern anchored at a line's end must allow its CR.
func TestFixturesReadTheSameWithCRLF(t *testing.T) {
	emls, err := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	if err != nil || len(emls) == 0 {
		t.Fatalf("no fixtures in %s (%v)", goldenDir, err)
	}
	for _, p := range emls {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := verdictKeys(Classify(raw, Input{}))
		if got := verdictKeys(Classify(toCRLF(raw), Input{})); got != want {
			t.Errorf("%s with CRLF line ends: %s, want %s", filepath.Base(p), got, want)
		}
	}
}

var (
	contentTypeLine = regexp.MustCompile(`(?im)^content-type:[ \t]*([^;\s]+)`)
	encodedLine     = regexp.MustCompile(`(?im)^content-transfer-encoding:[ \t]*(base64|quoted-printable)`)
)

// plainTextSinglePart splits a message whose body is one text/plain part
// (or has no Content-Type) in identity encoding into its header, without
// any Content-Transfer-Encoding field and ending in a newline, and its body.
func plainTextSinglePart(raw []byte) (head, body []byte, ok bool) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	i := bytes.Index(raw, []byte("\n\n"))
	if i < 0 {
		return nil, nil, false
	}
	h := raw[:i+1]
	if ct := contentTypeLine.FindSubmatch(h); ct != nil && !strings.EqualFold(string(ct[1]), "text/plain") || encodedLine.Match(h) {
		return nil, nil, false
	}
	for _, line := range bytes.SplitAfter(h, []byte("\n")) {
		if len(line) > 0 && !bytes.HasPrefix(bytes.ToLower(line), []byte("content-transfer-encoding:")) {
			head = append(head, line...)
		}
	}
	if !contentTypeLine.Match(h) {
		head = append(head, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"...)
	}
	return head, raw[i+2:], true
}

func encodeBase64(b []byte) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out []byte
	for len(s) > 76 {
		out = append(append(out, s[:76]...), '\n')
		s = s[76:]
	}
	return append(append(out, s...), '\n')
}

func encodeQP(b []byte) []byte {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// verdictKeys is what must not move: each verdict's recipient and class.
func verdictKeys(vs []Verdict) string {
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = fmt.Sprintf("%s/%s", v.Recipient, v.Class)
	}
	sort.Strings(keys)
	return "[" + strings.Join(keys, " ") + "]"
}
