package classify

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"strings"
)

// An editPart is one MIME entity of a message as editMIME hands it to an
// edit: its header and, for a leaf, its body decoded from base64 or
// quoted-printable. The edit may change either, or drop the entity.
type editPart struct {
	header   []byte // the header lines, each ending in "\n", without the blank line
	ctype    string // the lower-cased media type; text/plain for a top-level message without one
	body     []byte // a leaf's decoded body; nil for a multipart or message/rfc822 entity
	leaf     bool
	returned bool // inside a returned message (message/rfc822) or returned headers
	top      bool // the message itself
	drop     bool // set by the edit: leave the entity out of its multipart
}

// editMIME rewrites a message entity by entity, the way a different MTA
// would have written the same bounce: edit sees every entity, multipart
// containers first, then their parts in order, and the returned message
// inside a message/rfc822 part. A leaf's body is decoded before edit sees
// it and, if edit changed it, encoded again in its own transfer encoding;
// an entity edit did not touch keeps its bytes. Line ends become "\n".
func editMIME(raw []byte, edit func(p *editPart)) []byte {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	out, _ := editEntity(raw, false, true, edit)
	return out
}

var boundaryParam = regexp.MustCompile(`(?i)boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))`)

func editEntity(e []byte, returned, top bool, edit func(p *editPart)) ([]byte, bool) {
	var head, body []byte
	headOnly := false // no blank line: an entity of header fields alone
	switch i := bytes.Index(e, []byte("\n\n")); {
	case bytes.HasPrefix(e, []byte("\n")):
		body = e[1:]
	case i < 0:
		head, headOnly = e, true
	default:
		head, body = e[:i+1], e[i+2:]
	}
	ctField := headerValue(head, "content-type")
	ct, params, err := mime.ParseMediaType(ctField)
	if err != nil {
		ct = strings.ToLower(strings.TrimSpace(strings.SplitN(ctField, ";", 2)[0]))
		params = map[string]string{}
		if m := boundaryParam.FindStringSubmatch(ctField); m != nil {
			params["boundary"] = m[1] + m[2]
		}
	}
	if ct == "" && top {
		ct = "text/plain"
	}
	cte := strings.ToLower(strings.TrimSpace(headerValue(head, "content-transfer-encoding")))
	p := &editPart{header: head, ctype: ct, returned: returned, top: top}
	join := func(h, b []byte) []byte {
		if headOnly && len(b) == 0 {
			return bytes.Clone(h)
		}
		out := append(bytes.Clone(h), '\n')
		return append(out, b...)
	}
	switch {
	case strings.HasPrefix(ct, "multipart/") && params["boundary"] != "":
		if edit(p); p.drop {
			return nil, true
		}
		return join(p.header, editMultipart(body, params["boundary"], boundaryOf(p.header), returned, edit)), false
	case (ct == "message/rfc822" || ct == "message/global") && cte != "base64" && cte != "quoted-printable":
		if edit(p); p.drop {
			return nil, true
		}
		inner, _ := editEntity(body, true, false, edit)
		return join(p.header, inner), false
	}
	p.leaf = true
	p.returned = returned || ct == "text/rfc822-headers" || ct == "message/rfc822-headers"
	decoded := body
	switch cte {
	case "base64":
		if d, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(body), nil))); err == nil {
			decoded = d
		} else {
			cte = "" // undecodable: edited as it stands
		}
	case "quoted-printable":
		if d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil {
			decoded = d
		} else {
			cte = ""
		}
	}
	p.body = bytes.Clone(decoded)
	if edit(p); p.drop {
		return nil, true
	}
	if bytes.Equal(p.body, decoded) {
		return join(p.header, body), false
	}
	switch cte {
	case "base64":
		return join(p.header, encodeBase64(p.body)), false
	case "quoted-printable":
		return join(p.header, encodeQP(p.body)), false
	}
	return join(p.header, p.body), false
}

// editMultipart edits each part between the boundary delimiter lines
// (RFC 2046 s5.1.1) and keeps the preamble, the epilogue and the
// delimiters as they were.
// An edit that changed the boundary parameter (renaming a domain in it)
// gets its delimiters written with the new one.
func editMultipart(body []byte, boundary, newBoundary string, returned bool, edit func(p *editPart)) []byte {
	delim := []byte("--" + boundary)
	var out []byte
	var cur []byte // the current part, or the preamble before the first delimiter
	inPart, closed := false, false
	var lastDelim []byte
	flush := func() {
		if !inPart {
			// The preamble: no part, but a text an edit may rename in.
			p := &editPart{ctype: "text/x-preamble", body: cur, leaf: true, returned: returned}
			edit(p)
			out = append(out, p.body...)
			return
		}
		// The newline before a delimiter belongs to the delimiter (and at
		// the end of a body that lacks its closing one, to the body).
		part := bytes.TrimSuffix(cur, []byte("\n"))
		if edited, drop := editEntity(part, returned, false, edit); !drop {
			out = append(out, edited...)
			if len(part) < len(cur) {
				out = append(out, '\n')
			}
		} else {
			out = out[:len(out)-len(lastDelim)]
		}
	}
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if !closed && bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\n")
			if len(rest) == 0 || bytes.Equal(rest, []byte("--")) {
				flush()
				if newBoundary != "" && newBoundary != boundary {
					line = append([]byte("--"+newBoundary), line[len(delim):]...)
				}
				lastDelim = line
				out = append(out, line...)
				cur, inPart = nil, true
				if len(rest) > 0 {
					closed, inPart = true, false
				}
				continue
			}
		}
		cur = append(cur, line...)
	}
	switch {
	case inPart:
		flush()
	case lastDelim == nil:
		// No delimiter at all: readers take the body for text.
		p := &editPart{ctype: "text/plain", body: cur, leaf: true, returned: returned}
		edit(p)
		out = p.body
	default:
		p := &editPart{ctype: "text/x-epilogue", body: cur, leaf: true, returned: returned}
		edit(p)
		out = append(out, p.body...)
	}
	return out
}

func boundaryOf(head []byte) string {
	_, params, err := mime.ParseMediaType(headerValue(head, "content-type"))
	if err != nil {
		if m := boundaryParam.FindStringSubmatch(headerValue(head, "content-type")); m != nil {
			return m[1] + m[2]
		}
	}
	return params["boundary"]
}

// headerValue is the unfolded value of the first field of that name.
func headerValue(head []byte, name string) string {
	lines := strings.Split(string(head), "\n")
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += " " + strings.TrimSpace(lines[i])
		}
		return strings.TrimSpace(v)
	}
	return ""
}
