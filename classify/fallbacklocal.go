package classify

import (
	"strings"
)

// The fallback's last resorts, for bounces that name their failed
// recipient without a whole address: a mail system listing its own users
// by name ("could not be delivered to the following recipients:" and
// below it "screenname"), or a notice that only summarises the returned
// message ("Subject: ...", "To: user@example.com") written by the
// recipient's own mail system. Both need the address's domain to be the
// reporting system's own.

// fbLocalNameRe is a bare local part: what a mail system prints for one
// of its own users.
var fbLocalNameRe = mustFastRe(`^[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}$`)

// fbLocalParts reads the bare names listed below a sentence that says they
// failed, and qualifies them with the domain of the mail system that sent
// the bounce.
func fbLocalParts(m *message, lines []string, action string, senders []string) []Verdict {
	if !looksLikeBounceSender(m) && !daemonReturnPath(m) {
		return nil
	}
	site := siteOf(domainOf(firstAddress(m.get("From"))))
	if site == "" {
		return nil
	}
	for i, line := range lines {
		if i&63 == 63 && m.cancelled() {
			return nil
		}
		t := strings.TrimSpace(line)
		if !strings.HasSuffix(t, ":") {
			continue
		}
		if t = sentenceEndingAt(lines, i); !fbListIntroRe.MatchString(t) || !fbSentenceRe.MatchString(t) {
			continue
		}
		var out []Verdict
		for _, l := range lines[i+1:] {
			lt := strings.TrimSpace(l)
			if lt == "" {
				if len(out) > 0 {
					break
				}
				continue
			}
			if indentOf(l) == 0 || strings.HasPrefix(lt, "-") || len(out) >= 32 {
				break
			}
			name, rest := lt, ""
			if j := strings.IndexAny(lt, " \t"); j > 0 {
				name, rest = lt[:j], strings.TrimSpace(lt[j:])
				if !strings.HasPrefix(lt[j:], "  ") && !strings.HasPrefix(lt[j:], "\t") {
					break // words of a sentence, not a name and its reason
				}
			}
			if !fbLocalNameRe.MatchString(name) {
				break
			}
			diag := rest
			if diag == "" {
				diag = t // the sentence that announced the list says why
			}
			f := finding{recipient: strings.ToLower(name) + "@" + site, action: action, diagnostic: diag}
			out = append(out, decideStaged("fallback", f, stageOf(diag), senders))
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// fbSummaryTo reads the "To:" of a returned message's summary ("I wasn't
// able to deliver the following message. Subject: ... To: a@b"), when the
// bounce names no recipient otherwise and the address belongs to the mail
// system that wrote the bounce: the recipient's own system refused it.
// It returns the address and the paragraph that says what failed.
func fbSummaryTo(m *message, lines []string) (addr, diag string) {
	site := siteOf(domainOf(firstAddress(m.get("From"))))
	if site == "" {
		return "", ""
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if len(t) < 4 || !strings.EqualFold(t[:3], "to:") {
			continue
		}
		as := addressesIn(t[3:])
		if len(as) != 1 || siteOf(domainOf(as[0])) != site {
			return "", ""
		}
		addr = as[0]
		break
	}
	if addr == "" {
		return "", ""
	}
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && fbSentenceRe.MatchString(t) {
			return addr, t
		}
	}
	return addr, ""
}

// siteOf returns the registered domain of a host name, roughly: its last
// two labels, or three under a two-letter country code whose second level
// is a generic one ("example.co.uk", "example.ac.jp").
func siteOf(host string) string {
	host = strings.ToLower(strings.Trim(host, ". "))
	if host == "" || strings.HasPrefix(host, "[") {
		return ""
	}
	labels := strings.Split(host, ".")
	n := len(labels)
	if n < 2 {
		return ""
	}
	keep := 2
	if n >= 3 && len(labels[n-1]) == 2 {
		switch labels[n-2] {
		case "co", "com", "net", "org", "ac", "ad", "ed", "go", "gov", "edu", "ne", "or", "gr", "lg", "mil", "gob", "nic":
			keep = 3
		}
	}
	return strings.Join(labels[n-keep:], ".")
}
