package classify

import (
	"strings"
)

// The RFC 3464 decoder reads message/delivery-status (and RFC 6533's
// message/global-delivery-status): one block of per-message fields, then
// one block of per-recipient fields per recipient (RFC 3464 s2.2, s2.3).
// Real reports bend the format: the fields can sit in a text/plain part,
// the blocks can lack blank lines between them, and the Diagnostic-Code may
// be folded over many lines. The parser is lenient about all of it.
func init() {
	register(decoder{name: "rfc3464", order: orderDSN, decode: decodeDSN})
}

func decodeDSN(m *message) []Verdict {
	fs := dsnFindings(m)
	if len(fs) == 0 {
		return nil
	}
	out := make([]Verdict, 0, len(fs))
	for _, f := range fs {
		out = append(out, decide("rfc3464", f))
	}
	return out
}

// dsnFindings reads the per-recipient fields of the delivery-status parts
// (or, failing those, of the text), without deciding; provider decoders
// that wrap a DSN reuse it.
func dsnFindings(m *message) []finding {
	var body []byte
	fromText := false
	for _, p := range m.partsOf("message/delivery-status", "message/global-delivery-status", "text/delivery-status") {
		body = append(body, p.body...)
		body = append(body, '\n', '\n')
	}
	if body == nil {
		// Some MTAs put the fields in a text part.
		if !m.containsLower("final-recipient:") {
			return nil
		}
		body = []byte(m.text)
		fromText = true
	}
	perMessage, recipients := parseDSNFields(string(body))
	reportingMTA := perMessage.get("reporting-mta")
	out := make([]finding, 0, len(recipients))
	// Each address is looked for in the whole text: the first
	// maxNearSearches of them, each once.
	nearOf := map[string]string{}
	alias, aliasRead := "", false
	for i, r := range recipients {
		if i%16 == 15 && m.cancelled() {
			return nil // each recipient may search the whole text
		}
		f := finding{
			recipient:    r.get("final-recipient"),
			action:       r.get("action"),
			status:       r.get("status"),
			diagnostic:   r.get("diagnostic-code"),
			remoteMTA:    r.get("remote-mta"),
			reportingMTA: reportingMTA,
		}
		orig := cleanAddress(r.get("original-recipient"))
		if final := cleanAddress(f.recipient); final == "" || orig != "" && !dottedDomain(final) {
			// No Final-Recipient, or one that is no Internet address
			// ("user@sims-ms-daemon", a mailbox store's name).
			f.recipient = r.get("original-recipient")
		}
		if cleanAddress(f.recipient) == "" && len(recipients) == 1 {
			// A mangled Final-Recipient ("rfc822; @mx.example.org"): the
			// returned message says whom it was for.
			if h, ok := m.embeddedHeader(); ok {
				f.recipient = firstAddress(headerText(h, "To"))
			}
		}
		if prog := stripType(r.get("x-actual-recipient")); strings.HasPrefix(prog, "|") || strings.HasPrefix(prog, "/") {
			// Sendmail delivered the address to a program or a file (an
			// alias or a .forward) and that delivery failed: the address
			// the sender used is the one Sendmail says it was expanded
			// from, and the failure is the local delivery program's.
			if !aliasRead {
				alias, aliasRead = expandedFrom(m.text), true // a search of the whole text: once
			}
			if alias != "" {
				f.recipient = alias
			}
			if f.diagnostic == "" {
				f.diagnostic = prog
				f.reason, f.rule = MailerError, "dsn-program-recipient"
			}
		}
		near := ""
		if addr := cleanAddress(f.recipient); !fromText && addr != "" {
			var ok bool
			if near, ok = nearOf[addr]; !ok && len(nearOf) < maxNearSearches {
				near = textNear(m.text, addr)
				nearOf[addr] = near
			}
		}
		if stripType(f.diagnostic) == "" {
			// No Diagnostic-Code, or one with a type and no text
			// ("Diagnostic-Code: SMTP; ", Sendmail's when the server
			// closed the connection with a 421): the text says more.
			f.diagnostic = near
		}
		f.near = near
		f.command = commandIn(near)
		if f.command == "" {
			f.command = commandIn(f.diagnostic)
		}
		out = append(out, f)
		if orig != "" && dottedDomain(orig) && unquoted(orig) != unquoted(cleanAddress(f.recipient)) {
			// The address the sender gave (RFC 3464 s2.3.1, from RFC 3461's
			// ORCPT) before an alias, a forward or a mailbox store rewrote
			// it: the one the sender's list knows. The report is about
			// both, so both get the verdict.
			o := f
			o.recipient = orig
			out = append(out, o)
		}
	}
	return out
}

// cutAtOtherAddress cuts seg before a later line that opens with an
// address other than addr: the next entry of a list of recipients, one a
// line with no blank line between (OpenSMTPD's "addr: reply"), whose reply
// is not addr's.
func cutAtOtherAddress(seg, addr string) string {
	for off := 0; ; {
		nl := strings.IndexByte(seg[off:], '\n')
		if nl < 0 {
			return seg
		}
		off += nl + 1
		tok := strings.TrimLeft(seg[off:], " \t<")
		if i := strings.IndexAny(tok, " \t>:,;\r\n"); i >= 0 {
			tok = tok[:i]
		}
		if strings.Contains(tok, "@") && !strings.EqualFold(tok, addr) {
			return seg[:off]
		}
	}
}

// expandedFrom returns the address of Sendmail's "(expanded from:
// <user@example.org>)" note, when the text has exactly one.
func expandedFrom(text string) string {
	const note = "(expanded from: "
	charge(len(text))
	i := strings.Index(text, note)
	if i < 0 || strings.Contains(text[i+len(note):], note) {
		return ""
	}
	rest := text[i+len(note):]
	if j := strings.IndexByte(rest, ')'); j >= 0 {
		rest = rest[:j]
	}
	return cleanAddress(rest)
}

// unquoted drops the quotes of a quoted local part, for comparing.
func unquoted(addr string) string {
	return strings.ReplaceAll(addr, `"`, "")
}

// dottedDomain reports whether an address's domain is a dotted name or an
// address literal, as an address on the Internet has.
func dottedDomain(addr string) bool {
	d := domainOf(addr)
	return strings.Contains(d, ".") || strings.HasPrefix(d, "[")
}

// dsnFields is one block of fields, keys lower-cased; values of repeated
// fields are kept in order.
type dsnFields map[string][]string

func (f dsnFields) get(k string) string {
	if v := f[k]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// parseDSNFields splits the body into the per-message block and one block
// per recipient. A new recipient block starts at a blank line or at a
// Final-Recipient / Original-Recipient field when the current block
// already has one (reports that omit blank lines).
func parseDSNFields(s string) (dsnFields, []dsnFields) {
	perMessage := dsnFields{}
	var recips []dsnFields
	cur := dsnFields{}
	last := ""
	// The folded lines of the last field, joined to its value once it
	// ends: appending each line to the value would copy it once per line.
	var folded []string
	var values []string // the first values of fields, see below
	endFold := func() {
		if len(folded) > 0 {
			vs := cur[last]
			vs[len(vs)-1] += " " + strings.Join(folded, " ")
			folded = folded[:0]
		}
	}
	flush := func() {
		endFold()
		if len(cur) == 0 {
			return
		}
		if cur["final-recipient"] != nil || cur["original-recipient"] != nil {
			recips = append(recips, cur)
		} else if len(recips) == 0 {
			for k, v := range cur {
				perMessage[k] = append(perMessage[k], v...)
			}
		} else if cur["action"] != nil || cur["status"] != nil {
			// Fields split from their recipient by a stray blank line.
			prev := recips[len(recips)-1]
			for k, v := range cur {
				if prev[k] == nil {
					prev[k] = v
				}
			}
		}
		cur = dsnFields{}
		last = ""
	}
	for rest, more := s, true; more; {
		var line string
		line, rest, more = cutTextLine(rest)
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			folded = append(folded, strings.TrimSpace(line))
			continue
		}
		endFold()
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.IndexByte(line[:i], ' ') >= 0 || strings.IndexByte(line[:i], '\t') >= 0 {
			last = ""
			continue
		}
		k := dsnKey(line[:i])
		if cur[k] != nil && (k == "final-recipient" || k == "original-recipient" || k == "action" || k == "status") {
			flush() // a second recipient without a blank line before it
		}
		v := strings.TrimSpace(line[i+1:])
		if vs := cur[k]; vs != nil {
			cur[k] = append(vs, v)
		} else {
			// A field's first value is cut from a shared array, with room
			// for itself only: a field that comes again grows its own.
			if len(values) == cap(values) {
				values = make([]string, 0, 16)
			}
			values = append(values, v)
			cur[k] = values[len(values)-1 : len(values) : len(values)]
		}
		last = k
	}
	flush()
	return perMessage, recips
}

// cutTextLine cuts the first line off s, without its line end: the lines
// of textLines(s), without making them all at once. more is false for the
// last line.
func cutTextLine(s string) (line, rest string, more bool) {
	if j := strings.IndexByte(s, '\n'); j >= 0 {
		return strings.TrimSuffix(s[:j], "\r"), s[j+1:], true
	}
	return s, "", false
}

// dsnFieldNames are the fields of RFC 3464 s2.2 and s2.3, lower-cased.
var dsnFieldNames = []string{
	"reporting-mta", "dsn-gateway", "received-from-mta", "arrival-date", "original-envelope-id",
	"original-recipient", "final-recipient", "action", "status", "remote-mta", "diagnostic-code",
	"last-attempt-date", "final-log-id", "will-retry-until", "x-postfix-queue-id", "x-postfix-sender",
}

// dsnKey is strings.ToLower(k), without making a string for the names
// of RFC 3464's fields.
func dsnKey(k string) string {
	for _, name := range dsnFieldNames {
		if len(k) == len(name) && equalFoldLower(k, name) {
			return name
		}
	}
	return strings.ToLower(k)
}

// maxNearSearches bounds the addresses of one report looked for in its
// text, each a search of the whole text.
const maxNearSearches = 32

// textNear returns the lines of the human-readable text around a mention
// of an address: many reports put the server's reply there and leave
// Diagnostic-Code out. Of the first few mentions it keeps the one with the
// most to say (a Sendmail report lists the bare address first and the
// reason in its transcript). The address is looked for in lowerASCII(text)
// (a foldFinder does that without making it).
func textNear(text, addr string) string {
	if addr == "" || text == "" {
		return ""
	}
	best := ""
	from := 0
	mentions := newFoldFinder(text, addr)
	for n := 0; n < 5; n++ {
		i := mentions.next(from)
		if i < 0 {
			break
		}
		from = i + len(addr)
		seg := text[i:min(i+600, len(text))]
		if j := strings.Index(seg, "\n\n"); j > 0 {
			seg = seg[:j]
		} else if j := strings.Index(seg, "\r\n\r\n"); j > 0 {
			seg = seg[:j]
		}
		seg = cutAtOtherAddress(seg, addr)
		if len(seg) > len(best) {
			best = seg
		}
	}
	return best
}
