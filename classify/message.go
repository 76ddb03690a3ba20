package classify

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	nettextproto "net/textproto"
	"slices"
	"strings"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // register charsets beyond UTF-8 and ASCII (ISO-2022-JP, Shift_JIS, ...)
	"github.com/emersion/go-message/textproto"
)

// Reading limits. A bounce's meaning sits in its first few kilobytes; a
// huge attachment or returned message is never read past these bounds, so
// classifying a 10 MiB message costs little more than its own bytes.
const (
	maxHeaderBytes   = 256 << 10
	maxTextPart      = 1 << 20  // each human-readable part
	maxReportPart    = 1 << 20  // each message/delivery-status or feedback-report part
	maxEmbeddedPart  = 64 << 10 // each returned message or header part: its headers suffice
	maxParts         = 64       // every MIME entity counts, multipart ones too
	maxTotalReadText = 4 << 20
	// maxHumanText bounds the human-readable text the decoders read, all
	// text parts together: each of its bytes costs a run of many patterns.
	maxHumanText = 1 << 20
	// maxDepth bounds how deep multipart bodies nest; one nested deeper
	// is skipped. A bounce nests two or three.
	maxDepth = 24
	// maxFindings bounds the recipients a decoder reads of one message.
	// A bounce names a few; a report that lists thousands of addresses
	// under one shared explanation would cost thousands of readings of it.
	maxFindings = 64
	// maxDiagnostic bounds the diagnostic a verdict keeps and its rules
	// read: an SMTP reply is a few lines of at most 512 bytes (RFC 5321
	// s4.5.3.1.5).
	maxDiagnostic = 2 << 10
)

// Why reading a message stopped short of its end (message.cut). Each
// verdict's evidence names it (see the package doc).
const (
	cutDepth      = "mime-depth"  // a multipart body deeper than maxDepth was skipped
	cutParts      = "mime-parts"  // the message has more than maxParts entities
	cutText       = "text-limit"  // maxTotalReadText of the parts or maxHumanText of their text was read
	cutScanBudget = "scan-budget" // the walker read or searched its budget of bytes
	cutFindings   = "recipients"  // a decoder read maxFindings recipients and no more
)

// part is one leaf of the MIME tree, its body decoded (transfer encoding
// and, for text, charset) and truncated to the limits above.
type part struct {
	mediaType string // lower case, e.g. "message/delivery-status"
	params    map[string]string
	header    gomessage.Header
	body      []byte
}

// message is a parsed input, shared by all decoders.
type message struct {
	header    gomessage.Header
	mediaType string // top-level media type
	params    map[string]string
	parts     []part
	// text is the human-readable body: the text/plain parts (or, without
	// them, the text/html parts stripped of tags), joined.
	text  string
	lower string // text lower-cased, made on first use: see lowerText
	// ascii: text is all ASCII, so that ASCII case folding is
	// lower-casing; known once asciiKnown (see textIsASCII)
	ascii, asciiKnown bool
	from              string // the From field lower-cased, once fromRead: see fromLower
	fromRead          bool
	in                Input
	// the returned message's header, read on first use: see embeddedHeader
	embedded                  gomessage.Header
	hasEmbedded, embeddedRead bool
	// done is the context's: closed once the caller stops waiting (nil:
	// never).
	done <-chan struct{}
	// cut, when set, says why the MIME walk stopped before the end of
	// the message (cutDepth ...): the verdicts rest on what was read.
	cut string
}

// cancelled reports whether the caller has stopped waiting for the verdicts.
func (m *message) cancelled() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// cutShort records why reading stopped short; the first reason stays.
func (m *message) cutShort(why string) {
	if m.cut == "" {
		m.cut = why
	}
}

// parseMessage never fails: what cannot be read as MIME is treated as a
// plain text message, and what cannot be read at all yields empty fields.
func parseMessage(raw []byte, in Input) *message {
	return readMessage(nil, raw, in)
}

// readMessage is parseMessage, stopping early (m.cancelled) once done is
// closed.
func readMessage(done <-chan struct{}, raw []byte, in Input) *message {
	m := &message{in: in, done: done}
	raw = stripMboxLine(raw)
	w := newWalker(m, len(raw))
	h, body, err := w.readTopHeader(raw)
	if err != nil {
		// Not even a header: keep whatever text follows the first blank line, or all of it.
		m.header = looseHeader(raw)
		m.text = string(limit(bodyAfterHeader(raw), maxTextPart))
		m.mediaType = "text/plain"
		return m
	}
	m.header = h
	mt, params, _ := h.ContentType()
	m.mediaType, m.params = mt, params
	if m.mediaType == "" {
		m.mediaType = "text/plain"
	}
	if w.entity(h, mt, params, body, 0) == errLeaveToGoMessage {
		m.parts, m.cut = nil, ""
		walkGoMessage(m, raw)
	}
	var cut bool
	if m.text, cut = humanText(m.parts); cut {
		m.cutShort(cutText)
	}
	if m.text == "" && len(m.parts) == 0 && m.cut == "" {
		// Not MIME that can be read: the body as it is. (A walk cut
		// short by its bounds read MIME, just too much of it.)
		m.text = string(limit(bodyAfterHeader(raw), maxTextPart))
	}
	return m
}

// walkGoMessage reads the parts of a message as go-message's Entity.Walk
// does, for the input whose reading the walker (mimewalk.go) does not
// reproduce, within the walker's bounds: no more than maxParts entities,
// and a multipart body nested deeper than maxDepth skipped (Walk itself
// descends as deep as the message goes, through a reader per level).
func walkGoMessage(m *message, raw []byte) {
	r := &budgetReader{r: bytes.NewReader(raw), m: m}
	ent, _ := gomessage.ReadWithOptions(r, &gomessage.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if ent == nil {
		return // not reached: the walker read the same header
	}
	total, entities := 0, 0
	var scratch []byte
	var levels []gomessage.MultipartReader
	for e := ent; ; e = nil {
		if e == nil {
			if len(levels) == 0 {
				return
			}
			var err error
			e, err = levels[len(levels)-1].NextPart()
			if err == io.EOF {
				levels = levels[:len(levels)-1]
				continue
			}
			if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
				return
			}
		}
		if cut := entityLimit(entities, total); cut != "" {
			m.cutShort(cut)
			return
		}
		entities++
		if mr := e.MultipartReader(); mr != nil {
			if len(levels) >= maxDepth {
				m.cutShort(cutDepth)
			} else {
				levels = append(levels, mr)
			}
			continue
		}
		mt, params, _ := e.Header.ContentType()
		mt = strings.ToLower(mt)
		if mt == "" {
			mt = "text/plain"
		}
		if strings.HasPrefix(mt, "multipart/") {
			continue // a type that did not parse: Walk does not descend
		}
		n := partLimit(mt)
		if n == 0 {
			m.parts = append(m.parts, part{mediaType: mt, params: params, header: e.Header})
			continue
		}
		var body []byte
		body, scratch = readPart(e.Body, n, scratch)
		total += len(body)
		m.parts = append(m.parts, part{mediaType: mt, params: params, header: e.Header, body: body})
	}
}

// budgetReader counts the bytes go-message reads of a message and, once
// the message's context is done, ends it.
type budgetReader struct {
	r *bytes.Reader
	m *message
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.m.cancelled() {
		return 0, io.ErrUnexpectedEOF
	}
	n, err := b.r.Read(p)
	charge(n)
	return n, err
}

// readPart reads at most n bytes of r, as io.ReadAll of an io.LimitReader
// would, but into scratch, which it grows and hands back for the next part,
// and returns a copy of exactly the size read: one allocation per part
// instead of ReadAll's run of doublings.
func readPart(r io.Reader, n int, scratch []byte) (body, grown []byte) {
	buf := scratch[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 4096), n-len(buf)))
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		if err != nil {
			break
		}
	}
	return append([]byte{}, buf...), buf
}

func partLimit(mt string) int {
	switch {
	case mt == "text/plain", mt == "text/html", mt == "text/enriched":
		return maxTextPart
	case mt == "message/delivery-status", mt == "message/global-delivery-status",
		mt == "message/feedback-report", mt == "text/delivery-status":
		return maxReportPart
	case mt == "message/rfc822", mt == "message/global", mt == "text/rfc822-headers",
		mt == "message/rfc822-headers", mt == "message/global-headers", mt == "message/partial":
		return maxEmbeddedPart
	case strings.HasPrefix(mt, "text/"):
		return maxTextPart
	}
	return 0 // attachments: not read
}

// humanText joins the text/plain parts; without them, stripped text/html;
// at most maxHumanText of it. cut reports that more was left out.
func humanText(parts []part) (text string, cut bool) {
	var b strings.Builder
	n := 0
	for _, p := range parts {
		if p.mediaType == "text/plain" {
			n += len(p.body) + 1
		}
	}
	b.Grow(min(n, maxHumanText)) // one string, not a run of doublings
	add := func(s []byte) {
		if room := max(maxHumanText-b.Len(), 0); len(s) > room {
			s, cut = s[:room], true
		}
		b.Write(s)
		b.WriteByte('\n')
	}
	for _, p := range parts {
		if p.mediaType == "text/plain" && !isAttachment(p.header) && !cut {
			add(p.body)
		}
	}
	if b.Len() > 0 {
		return b.String(), cut
	}
	for _, p := range parts {
		if p.mediaType == "text/html" && !cut {
			add([]byte(stripHTML(string(p.body))))
		}
	}
	return b.String(), cut
}

func isAttachment(h gomessage.Header) bool {
	disp, _, _ := h.ContentDisposition()
	return strings.EqualFold(disp, "attachment")
}

// lowerText returns the text lower-cased (strings.ToLower), made once for
// all the decoders that search it without regard to case.
func (m *message) lowerText() string {
	if m.lower == "" {
		charge(len(m.text))
		m.lower = strings.ToLower(m.text)
	}
	return m.lower
}

// textIsASCII reports whether the text is all ASCII, found on first use.
func (m *message) textIsASCII() bool {
	if !m.asciiKnown {
		m.ascii, m.asciiKnown = isASCII(m.text), true
	}
	return m.ascii
}

// containsLower reports whether the lower-cased text contains sub
// (containsLower(m.text, sub)). An ASCII text is searched without regard
// to case instead of being lower-cased.
func (m *message) containsLower(sub string) bool {
	if m.textIsASCII() && isLowerASCII(sub) {
		return sub == "" || containsFoldASCIIString(m.text, sub)
	}
	charge(len(m.text))
	return strings.Contains(m.lowerText(), sub)
}

// The decoders look for their patterns in the text through these, which
// rule a pattern out from its literals, looked for without regard to case
// in an ASCII text and in the lower-cased text made once otherwise,
// instead of lower-casing the text for each pattern.

// mayContain reports whether re may match the text: false only when the
// text lacks all of re's literals.
func (m *message) mayContain(re *fastRe) bool {
	switch {
	case !re.fold:
		return re.mayMatch(m.text)
	case m.textIsASCII():
		return re.mayMatchASCII(m.text)
	}
	return re.mayMatchLower(m.lowerText())
}

// textMatches reports whether re matches the text.
func (m *message) textMatches(re *fastRe) bool {
	return m.mayContain(re) && re.match(m.text)
}

// textAfter returns the text after the first match of re, and whether
// there was one (afterRe).
func (m *message) textAfter(re *fastRe) (string, bool) {
	if !m.mayContain(re) {
		return m.text, false
	}
	if loc := re.index(m.text); loc != nil {
		return m.text[loc[1]:], true
	}
	return m.text, false
}

// textBefore returns the text up to the first match of re, or all of it
// (cutAtRe).
func (m *message) textBefore(re *fastRe) string {
	if !m.mayContain(re) {
		return m.text
	}
	if loc := re.index(m.text); loc != nil {
		return m.text[:loc[0]]
	}
	return m.text
}

// textSubmatch is re.FindStringSubmatch on the text.
func (m *message) textSubmatch(re *fastRe) []string {
	if !m.mayContain(re) {
		return nil
	}
	return re.submatch(m.text)
}

// get returns a top-level header field, RFC 2047 decoded where possible.
func (m *message) get(key string) string {
	return headerText(m.header, key)
}

func headerText(h gomessage.Header, key string) string {
	if v, err := h.Text(key); err == nil {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(h.Get(key))
}

// partsOf returns the parts of the given media types, in order.
func (m *message) partsOf(types ...string) []part {
	var out []part
	for _, p := range m.parts {
		for _, t := range types {
			if p.mediaType == t {
				out = append(out, p)
			}
		}
	}
	return out
}

// embeddedHeader returns the header of the returned original message, from
// a message/rfc822 or text/rfc822-headers part, if there is one. It is
// read on first use and kept.
func (m *message) embeddedHeader() (gomessage.Header, bool) {
	if !m.embeddedRead {
		m.embedded, m.hasEmbedded = readEmbeddedHeader(m.parts)
		m.embeddedRead = true
	}
	return m.embedded, m.hasEmbedded
}

func readEmbeddedHeader(parts []part) (gomessage.Header, bool) {
	for _, p := range parts {
		if isEmbeddedType(p.mediaType) {
			h := looseHeader(p.body)
			if h.Len() > 0 {
				return h, true
			}
		}
	}
	return gomessage.Header{}, false
}

func isEmbeddedType(mt string) bool {
	switch mt {
	case "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
		return true
	}
	return false
}

// embeddedField returns a field of the returned message's header. Most
// returned messages never name the field, which a search of their bytes
// shows more cheaply than reading their header.
func (m *message) embeddedField(key string) string {
	for _, p := range m.parts {
		if isEmbeddedType(p.mediaType) && containsFoldASCII(p.body, key) {
			h, _ := m.embeddedHeader()
			return h.Get(key)
		}
	}
	return ""
}

// containsFoldASCII reports whether b contains s, ASCII letters matching
// in either case.
func containsFoldASCII(b []byte, s string) bool {
	// Anchor the search on a byte of s without case, which IndexByte finds fast.
	k := strings.IndexFunc(s, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') })
	if k < 0 {
		return bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(s)))
	}
	for i := k; i < len(b); {
		j := bytes.IndexByte(b[i:], s[k])
		if j < 0 {
			return false
		}
		start := i + j - k
		if start+len(s) <= len(b) && equalFoldASCII(b[start:start+len(s)], s) {
			return true
		}
		i += j + 1
	}
	return false
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range len(s) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// looseHeader reads a header block leniently, stopping at the first line
// that is not a header field.
func looseHeader(b []byte) gomessage.Header {
	b = limit(b, maxHeaderBytes)
	if h, _, _, ok := readHeaderBlock(b, min(len(b)+1, 4096)); ok {
		return gomessage.Header{Header: h}
	}
	// A buffer larger than the input is never filled, whatever its size:
	// no need for bufio's 4 KiB for a short header.
	r := bufio.NewReaderSize(bytes.NewReader(b), min(len(b)+1, 4096))
	h, err := textproto.ReadHeader(r)
	if err == nil {
		return gomessage.Header{Header: h}
	}
	// Fall back to collecting the well-formed leading fields by hand.
	var fields = map[string][]string{}
	var last string
	var folded []string // the last field's folded lines, joined once it ends
	endFold := func() {
		if len(folded) > 0 {
			vs := fields[last]
			vs[len(vs)-1] += " " + strings.Join(folded, " ")
			folded = folded[:0]
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			folded = append(folded, strings.TrimSpace(line))
			continue
		}
		endFold()
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.ContainsAny(line[:i], " \t") {
			break
		}
		last = nettextproto.CanonicalMIMEHeaderKey(line[:i])
		fields[last] = append(fields[last], strings.TrimSpace(line[i+1:]))
	}
	endFold()
	return gomessage.Header{Header: textproto.HeaderFromMap(fields)}
}

// stripMboxLine drops a leading mbox "From " separator line, which is not a
// header field and would stop a strict header parser.
func stripMboxLine(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
	}
	return raw
}

func bodyAfterHeader(raw []byte) []byte {
	for _, sep := range [][]byte{[]byte("\r\n\r\n"), []byte("\n\n")} {
		if i := bytes.Index(raw, sep); i >= 0 {
			return raw[i+len(sep):]
		}
	}
	return raw
}

func limit(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// stripHTML turns HTML into rough text: tags become spaces, entities for
// the common characters are decoded, block ends become newlines.
func stripHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			in = true
			if breaksLine(s[i+1 : min(i+4, len(s))]) {
				b.WriteByte('\n')
			}
		case c == '>' && in:
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteByte(c)
		}
	}
	return htmlEntities.Replace(b.String())
}

var htmlEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ")

// lineBreakTags are the tags after which stripHTML starts a line, by the
// first (up to three) bytes of their names.
var lineBreakTags = []string{"br", "p", "/p", "div", "/di", "tr", "li"}

// breaksLine reports whether strings.ToLower(name) begins with one of
// lineBreakTags, without lower-casing an ASCII name.
func breaksLine(name string) bool {
	if !isASCII(name) {
		name = strings.ToLower(name) // "İ" lower-cases to "i"
	}
	for _, t := range lineBreakTags {
		if len(name) >= len(t) && equalFoldLower(name[:len(t)], t) {
			return true
		}
	}
	return false
}

// decodeWord decodes RFC 2047 encoded words in a header value, leaving it
// as it is if that fails.
func decodeWord(s string) string {
	d := mime.WordDecoder{CharsetReader: gomessage.CharsetReader}
	if out, err := d.DecodeHeader(s); err == nil {
		return out
	}
	return s
}
