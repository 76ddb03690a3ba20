package classify

import (
	"strings"
)

// Microsoft Exchange and its hosted forms (Office 365 / Exchange Online,
// Outlook.com, Hotmail).
//
// Exchange 2000/2003 writes a plain-text report:
//
//	Your message
//	  To: ...
//	did not reach the following recipient(s):
//	user@example.org on Thu, 29 Apr 2010 00:00:00 -0000
//	    The recipient name is not recognized
//	    MSEXCH:IMS:ORG:SITE:SERVER 0 (000C05A6) Unknown Recipient
//
// Exchange 2007 and later, and Exchange Online, write a user part and a
// part for administrators, usually beside a message/delivery-status part
// that the rfc3464 decoder reads; this decoder reads the text when the
// delivery-status part is missing or unreadable:
//
//	Delivery has failed to these recipients or groups:
//	user@example.org
//	...
//	Diagnostic information for administrators:
//	Generating server: host.example.org
//	user@example.org
//	Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
func init() {
	register(decoder{name: "exchange", order: orderMTA - 1, decode: decodeExchange})
	registerRhost(rhost{name: "microsoft", matches: isMicrosoftHost, phrases: microsoftPhrases})
}

// exchangeIMSCodes are the MSEXCH:IMS codes of Exchange 2000/2003.
var exchangeIMSCodes = map[string]Reason{
	"000C05A6": UserUnknown,        // Unknown Recipient
	"00120270": NetworkError,       // Too many hops: a routing loop
	"00010256": TooManyConnections, // Too many recipients
	"000B0981": SecurityError,      // Remote server does not support AUTH
}

// microsoftPhrases read Exchange's own component codes and the replies of
// Microsoft's hosted servers.
var microsoftPhrases = []phrase{
	providerPhrase("recip-not-found", UserUnknown, `resolver\.adr\.(ex)?recip(ient)?notfound|not found by smtp address lookup`),
	providerPhrase("recip-limit", TooManyConnections, `resolver\.adr\.reciplimit`),
	providerPhrase("auth-required", SecurityError, `resolver\.rst\.(authrequired|notauthorized)`),
	providerPhrase("quota", MailboxFull, `storedrv\.deliver.{0,20}mailbox full|mapiexceptionshutoffquotaexceeded|quotaexceeded`),
	providerPhrase("domain-unreachable", DomainUnknown, `because the domain is not reachable`),
	providerPhrase("recipient-unknown", UserUnknown, `the recipient name is not recognized|email address you entered couldn'?t be found|email address couldn'?t be found`),
}

func isMicrosoftHost(f finding) bool {
	for _, h := range []string{f.remoteMTA, f.reportingMTA} {
		lh := strings.ToLower(h)
		if strings.Contains(lh, "outlook.com") || strings.Contains(lh, "hotmail") || strings.Contains(lh, "protection.outlook") {
			return true
		}
	}
	return hostIn(recipientDomain(f), "outlook.com", "hotmail.com", "live.com", "msn.com")
}

var exchangeIMSRe = mustFastRe(`MSEXCH:[^\s]*\s+\d+\s+\(([0-9A-Fa-f]{8})\)`)

func decodeExchange(m *message) []Verdict {
	if fs := exchange2003(m); len(fs) > 0 {
		return decideAll("exchange", fs)
	}
	if fs := exchangeNDR(m); len(fs) > 0 {
		return decideAll("exchange", fs)
	}
	return nil
}

func decideAll(name string, fs []finding) []Verdict {
	out := make([]Verdict, 0, len(fs))
	for _, f := range fs {
		out = append(out, decide(name, f))
	}
	return out
}

// exchange2003 reads the "did not reach the following recipient(s)" report.
func exchange2003(m *message) []finding {
	if !m.containsLower("did not reach the following recipient") {
		return nil // no line holds it either
	}
	lines := textLines(m.text)
	head := indexLine(lines, 0, "did not reach the following recipient")
	if head < 0 {
		return nil
	}
	var fs []finding
	// The lines of the last recipient's diagnostic, joined once it ends:
	// appending each to a string would copy it once per line.
	var diag []string
	indented := false // an indented line came: the diagnostic does not start with a blank
	endDiag := func() {
		if len(fs) > 0 && len(diag) > 0 {
			d := strings.Join(diag, " ")
			if !indented {
				d = " " + d // as appending " " + line to "" left it
			}
			fs[len(fs)-1].diagnostic = clipDiagnostic(d) // as much as decide reads
		}
		diag, indented = diag[:0], false
	}
	for _, l := range lines[head+1:] {
		if strings.TrimSpace(l) == "" {
			if len(diag) > 0 {
				break
			}
			continue
		}
		if indentOf(l) == 0 {
			a, ok := exchangeRecipientLine(l)
			if !ok {
				if len(fs) > 0 {
					diag = append(diag, strings.TrimSpace(l))
				}
				continue
			}
			endDiag()
			fs = append(fs, finding{recipient: a, action: "failed"})
			continue
		}
		if a := exchangeIndentedRecipient(l); a != "" {
			// Exchange 5.5 indents its list: "   user@example.org on
			// 4/29/99 9:19:59 AM".
			fs = append(fs, finding{recipient: a, action: "failed"})
			continue
		}
		if len(fs) > 0 {
			diag, indented = append(diag, strings.TrimSpace(l)), true
		}
	}
	endDiag()
	for i := range fs {
		if fs[i].recipient == "" {
			// Named by its display name only: the address is in the
			// server's reply below it ("<mx.example.org #5.1.1 smtp;550
			// 5.1.1 <user@example.org>... User unknown>").
			fs[i].recipient = cleanAddress(firstAddrIn(fs[i].diagnostic))
		}
		if mm := exchangeIMSRe.FindStringSubmatch(fs[i].diagnostic); mm != nil {
			if r, ok := exchangeIMSCodes[strings.ToUpper(mm[1])]; ok {
				fs[i].reason, fs[i].rule = r, "exchange-ims-"+strings.ToUpper(mm[1])
			}
		}
		if fs[i].reason == "" {
			if p, ok := matchPhrases(microsoftPhrases, fs[i].diagnostic); ok {
				fs[i].reason, fs[i].rule = p.reason, "exchange-"+p.name
			}
		}
	}
	return fs
}

// exchangeOnDateRe is a recipient line of the report: the recipient, by
// address, X.400 O/R address or display name, and when it failed
// ("user@example.org on Thu, 29 Apr 2010 00:00:00 -0000").
var exchangeOnDateRe = mustFastRe(`(?i)^(.+?)\s+on\s+(?:mon|tue|wed|thu|fri|sat|sun|\d)`)

// exchangeRecipientLine reads a line at the margin of the report's list:
// it names a failed recipient when it starts with its address, gives it as
// an X.400 O/R address ("c=US;a= ;p=ORG;o=SITE;dda:SMTP=user@example.org;")
// or says when it failed. The address is "" for a recipient named by its
// display name only.
func exchangeRecipientLine(l string) (addr string, ok bool) {
	a := firstAddrIn(l)
	if len(a) > 5 && strings.EqualFold(a[:5], "smtp=") {
		a = a[5:] // "=" may stand in a local part, but not here
	}
	lower := strings.ToLower(l)
	if a != "" {
		la := strings.ToLower(a)
		i := strings.Index(lower, la)
		head := strings.Trim(lower[:i], `'"<[ `)
		if head == "" || strings.HasSuffix(head, "smtp=") || strings.HasSuffix(head, "smtp:") {
			return a, true
		}
	}
	mm := exchangeOnDateRe.FindStringSubmatch(l)
	if mm == nil {
		return "", false
	}
	if a != "" {
		return a, true
	}
	if strings.ContainsAny(mm[1], ":;") {
		return "", false // a sentence, not a name
	}
	return "", true
}

// exchangeIndentedRecipient returns the address of an indented recipient
// line, one that starts with the address and says when it failed.
func exchangeIndentedRecipient(l string) string {
	t := strings.TrimSpace(l)
	mm := exchangeOnDateRe.FindStringSubmatch(t)
	if mm == nil {
		return ""
	}
	a, ok := exchangeRecipientLine(t)
	if !ok || a == "" || !strings.Contains(strings.ToLower(mm[1]), strings.ToLower(a)) {
		return ""
	}
	return a
}

var exchangeReturnedRe = mustFastRe(`(?i)(?:remote server returned|server at (\S+).{0,40}? returned)\s+'([^']*)'?`)

// exchangeAdminHead returns the line before the first recipient of the
// administrators' part found by its untranslated lines: the address alone
// on its line just above the first "Remote Server returned '...'" or
// "#5xx ... ##rfc822;" line; -1 without one.
func exchangeAdminHead(lines []string) int {
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "Remote Server returned '") && !(strings.HasPrefix(t, "#") && strings.Contains(t, "##rfc822;")) {
			continue
		}
		for j := i - 1; j >= 0 && j >= i-3; j-- {
			u := strings.TrimSpace(lines[j])
			if a := firstAddrIn(u); a != "" && strings.EqualFold(a, u) {
				return j - 1
			}
		}
		return -1
	}
	return -1
}

// exchangeNDR reads the administrators' part of an Exchange 2007+ report.
// The administrators' part is headed in the reader's language
// ("Informations de diagnostic pour les administrateurs"); its lines
// "Remote Server returned '...'" and "#550 5.1.1 ... ##rfc822;a@b" are
// not translated, and find it where the English heading is missing.
func exchangeNDR(m *message) []finding {
	if m.text == "" {
		return nil
	}
	var lines []string
	head := -1
	switch {
	case strings.Contains(m.text, "Diagnostic information for administrators"):
		lines = textLines(m.text)
		head = indexLine(lines, 0, "diagnostic information for administrators")
	case strings.Contains(m.text, "Remote Server returned '") || strings.Contains(m.text, "##rfc822;"):
		lines = textLines(m.text)
		head = exchangeAdminHead(lines)
	}
	if head < 0 {
		return nil
	}
	reporting := ""
	var fs []finding
	var diag []string // the last recipient's diagnostic lines, joined once it ends
	endDiag := func() {
		if len(fs) > 0 && len(diag) > 0 {
			fs[len(fs)-1].diagnostic = strings.Join(diag, "\n")
		}
		diag = diag[:0]
	}
	for _, l := range lines[head+1:] {
		t := strings.TrimSpace(l)
		lt := strings.ToLower(t)
		if strings.HasPrefix(lt, "original message headers") || strings.HasPrefix(lt, "received: ") {
			break // the returned header, under a heading in any language
		}
		switch {
		case t == "":
			continue
		case strings.HasPrefix(lt, "generating server:"):
			reporting = strings.TrimSpace(t[len("generating server:"):])
			continue
		case strings.HasPrefix(lt, "receiving server:"):
			continue
		}
		if a := firstAddrIn(t); a != "" && strings.EqualFold(a, strings.TrimSpace(t)) {
			endDiag()
			fs = append(fs, finding{recipient: a, action: "failed", reportingMTA: reporting})
			continue
		}
		if len(fs) > 0 {
			diag = append(diag, t)
		}
	}
	endDiag()
	var originals []finding // the addresses the sender used, of fs[origOf[k]]
	var origOf []int
	for i := range fs {
		d := fs[i].diagnostic
		if mm := exchangeReturnedRe.FindStringSubmatch(strings.ReplaceAll(d, "\n", " ")); mm != nil {
			// The latest attempt is listed first.
			fs[i].remoteMTA, d = mm[1], mm[2]
		} else if j := strings.Index(d, "##"); strings.HasPrefix(d, "#") && j > 0 {
			// "#550 5.2.2 STOREDRV.Deliver: mailbox full. ... ##rfc822;user@...":
			// the address after "##rfc822;" is the one the sender used
			// (the DSN's Original-Recipient).
			if o := cleanAddress(strings.TrimPrefix(firstField(firstLine(d[j+2:])), "rfc822;")); o != "" && o != cleanAddress(fs[i].recipient) {
				originals = append(originals, finding{recipient: o})
				origOf = append(origOf, i)
			}
			d = d[1:j]
		}
		fs[i].diagnostic = d
		if p, ok := matchPhrases(microsoftPhrases, d); ok {
			// Exchange's component codes say more than its status codes:
			// it sends 5.1.10 (RFC 7505's null MX) for a missing recipient.
			fs[i].reason, fs[i].rule = p.reason, "exchange-"+p.name
		}
	}
	for k, o := range originals {
		f := fs[origOf[k]]
		f.recipient = o.recipient
		fs = append(fs, f)
	}
	return fs
}
