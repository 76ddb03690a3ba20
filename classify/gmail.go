package classify

import (
	"strings"
)

// Gmail's plain-text bounces (mailer-daemon@googlemail.com, before Gmail
// moved to multipart/report, which the rfc3464 decoder reads):
//
//	Delivery to the following recipient failed permanently:
//	     user@example.org
//	Technical details of permanent failure:
//	Google tried to deliver your message, but it was rejected by the server
//	for the recipient domain example.org by mx.example.org. [192.0.2.1].
//	The error that the other server returned was:
//	550 5.1.1 <user@example.org>... User unknown
//
// and the warning form, "Delivery to the following recipient has been
// delayed:" with "Technical details of temporary failure:".
func init() {
	register(decoder{name: "gmail", order: orderProvider, decode: decodeGmail})
	// Gmail's DSNs put its own explanation in Diagnostic-Code when no
	// remote server answered.
	registerRhost(rhost{name: "gmail", matches: isGmailReport, phrases: gmailPhrases})
}

func isGmailReport(f finding) bool {
	return hostIn(f.reportingMTA, "googlemail.com", "google.com")
}

// gmailPhrases are Gmail's own explanations, used when the remote
// server's reply is absent.
var gmailPhrases = []phrase{
	// Gmail says this once it has given up retrying the connection.
	providerPhrase("no-connect", Expired, `did not accept our requests to connect`),
	providerPhrase("dns", DomainUnknown, `dns error: (domain name not found|dns server returned answer with no data)`),
	providerPhrase("no-account", UserUnknown, `email account that you tried to reach does not exist`),
	providerPhrase("disabled", Disabled, `email account that you tried to reach is disabled`),
	providerPhrase("over-quota", MailboxFull, `(email account that you tried to reach is over quota|storage quota exceeded)`),
	providerPhrase("too-large", TooLarge, `message (was|is) too large|exceeded the maximum message size`),
}

var gmailByRe = mustFastRe(`(?i)\bby ([a-z0-9][a-z0-9.\-]*[a-z0-9])\.? \[([0-9a-f.:]+)\]`)

func decodeGmail(m *message) []Verdict {
	from := m.fromLower()
	if !strings.Contains(from, "googlemail.com") && !strings.Contains(from, "@google.com") && !strings.Contains(from, "@gmail.com") {
		return nil
	}
	lines := textLines(m.text)
	head := indexLine(lines, 0, "delivery to the following recipient")
	if head < 0 {
		return nil
	}
	delayed := strings.Contains(strings.ToLower(lines[head]), "delayed")
	var recips []string
	i := head + 1
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			if len(recips) > 0 {
				break
			}
			continue
		}
		a := firstAddrIn(l)
		if a == "" {
			break
		}
		recips = append(recips, a)
	}
	if len(recips) == 0 {
		if a := firstAddrIn(m.get("X-Failed-Recipients")); a != "" {
			recips = append(recips, a)
		}
	}
	if len(recips) == 0 {
		return nil
	}
	details, remoteMTA := gmailDetails(lines, i)
	f := finding{action: "failed", diagnostic: details, remoteMTA: remoteMTA}
	if delayed {
		f.action, f.temporary = "delayed", true
	}
	if j := strings.Index(lowerASCII(details), "the error that the other server returned was:"); j >= 0 {
		f.diagnostic = strings.TrimSpace(details[j+len("the error that the other server returned was:"):])
	} else if p, ok := matchPhrases(gmailPhrases, details); ok {
		f.reason, f.rule = p.reason, "gmail-"+p.name
	}
	var out []Verdict
	for _, r := range recips {
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		g := f
		g.recipient = r
		out = append(out, decide("gmail", g))
	}
	return out
}

// gmailDetails returns the "Technical details" section, up to the
// returned message, and the host Gmail talked to, if it says.
func gmailDetails(lines []string, from int) (string, string) {
	start := indexLine(lines, from, "technical details of")
	if start < 0 {
		return "", ""
	}
	var b strings.Builder
	first := lines[start]
	if k := strings.Index(first, ":"); k >= 0 {
		b.WriteString(strings.TrimSpace(first[k+1:]))
	}
	for _, l := range lines[start+1:] {
		if strings.HasPrefix(strings.TrimSpace(l), "----- Original message") || strings.HasPrefix(strings.TrimSpace(l), "----- Message header follows") {
			break
		}
		b.WriteString("\n")
		b.WriteString(l)
	}
	s := strings.TrimSpace(b.String())
	remote := ""
	if mm := gmailByRe.FindStringSubmatch(s); mm != nil {
		remote = mm[1]
	}
	return s, remote
}
