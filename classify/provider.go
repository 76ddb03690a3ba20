package classify

import (
	"strings"
	"unicode/utf8"
)

// Shared pieces of the mailbox-provider and gateway decoders: per-provider
// phrase tables, "rhost" tables that read a remote provider's replies
// inside any report, and small text helpers for the human-readable formats.

// A phrase is one provider-specific wording and what it means. Tables of
// phrases live in the provider's own file; they are tried before the
// shared text rules because they know the provider's vocabulary.
type phrase struct {
	name   string
	reason Reason
	re     *fastRe
}

func providerPhrase(name string, reason Reason, pattern string) phrase {
	return phrase{name: name, reason: reason, re: mustFastRe(pattern)}
}

// matchPhrases returns the first phrase of the table that matches the
// lower-cased, whitespace-folded diagnostic.
func matchPhrases(table []phrase, diag string) (phrase, bool) {
	if diag == "" {
		return phrase{}, false
	}
	s := foldText(diag)
	for _, p := range table {
		if p.re.MatchString(s) {
			return p, true
		}
	}
	return phrase{}, false
}

// An rhost is a receiving provider whose replies mean something other
// than their words say (au's "550 : User unknown" is a filter, not a
// missing user). It applies whichever MTA wrote the report.
type rhost struct {
	name    string
	matches func(f finding) bool
	phrases []phrase
}

var rhosts []rhost

func registerRhost(r rhost) { rhosts = append(rhosts, r) }

// applyRhost sets the finding's reason from the table of the provider
// that received the message, if one knows its diagnostic. It reports
// whether it did.
func applyRhost(f *finding) bool {
	if f.reason != "" || f.diagnostic == "" {
		return false
	}
	for _, r := range rhosts {
		if !r.matches(*f) {
			continue
		}
		if p, ok := matchPhrases(r.phrases, cleanDiagnostic(f.diagnostic)); ok {
			f.reason, f.rule = p.reason, "rhost-"+r.name+"-"+p.name
			return true
		}
	}
	return false
}

// recipientDomain returns the lower-cased domain of a finding's recipient.
func recipientDomain(f finding) string {
	return domainOf(cleanAddress(f.recipient))
}

// hostIn reports whether a host name (possibly with a "dns;" type or
// trailing text) is one of the domains or below one of them.
func hostIn(host string, domains ...string) bool {
	h := strings.ToLower(stripType(host))
	if i := strings.IndexAny(h, " \t(["); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for _, d := range domains {
		// h == d or h ends in "."+d
		if strings.HasSuffix(h, d) && (len(h) == len(d) || h[len(h)-len(d)-1] == '.') {
			return true
		}
	}
	return false
}

// firstAddrIn returns the first e-mail address in a text, or "".
func firstAddrIn(s string) string {
	return strings.Trim(addrRe.FindString(s), ".")
}

// indexLine returns the index of the first line containing any of the
// markers (compared case-insensitively), from line start on, or -1.
func indexLine(lines []string, start int, markers ...string) int {
	for i := start; i >= 0 && i < len(lines); i++ {
		for _, mk := range markers {
			if containsLower(lines[i], mk) {
				return i
			}
		}
	}
	return -1
}

// containsLower reports whether strings.ToLower(s) contains sub, without
// lower-casing s when s is ASCII and sub is lower-case ASCII: the common
// case, where a comparison that ignores ASCII case says the same (as
// message.containsLower does for the text).
func containsLower(s, sub string) bool {
	charge(len(s))
	if isASCII(s) && isLowerASCII(sub) {
		return containsFoldASCIIString(s, sub)
	}
	return strings.Contains(strings.ToLower(s), sub)
}

func isASCII(s string) bool {
	// Eight bytes at a time, as utf8.ValidString looks for its ASCII runs.
	for len(s) >= 8 {
		lo := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		hi := uint32(s[4]) | uint32(s[5])<<8 | uint32(s[6])<<16 | uint32(s[7])<<24
		if (lo|hi)&0x80808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fromHeader returns the lower-cased From field of the message.
func (m *message) fromLower() string {
	if !m.fromRead {
		m.from, m.fromRead = strings.ToLower(m.get("From")), true
	}
	return m.from
}
