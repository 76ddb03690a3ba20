package store

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxAddressLen is the longest normalised address accepted, in bytes:
// RFC 5321 s4.5.3.1.3 allows 256 octets for a path, angle brackets included.
const maxAddressLen = 254

// domainProfile maps a domain as a resolver would (UTS #46 lookup: case
// folding, width mapping, punycode) but leaves the character repertoire to
// checkDomain, which accepts the underscores found in real mail domains.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// Normalize returns the canonical form of an address: trimmed, angle
// brackets and an "rfc822;" type prefix (RFC 3464 s2.3.2) removed,
// lower-cased, domain in IDNA ASCII form with no trailing dot. Errors wrap
// ErrInvalidAddress.
//
// The local part is lower-cased although RFC 5321 s2.4 says it may be case
// sensitive: no mailbox provider in practice treats Alice and alice as two
// people, and one record per person is what suppression needs. Dots in the
// local part are kept as they are, since some providers deliver to
// "a..b@" and "a.@" addresses; quoted local parts are not supported.
func Normalize(addr string) (string, error) {
	s := strings.TrimSpace(addr)
	if len(s) > 4*maxAddressLen { // bound the work on garbage before the IDNA mapping
		return "", invalid(addr, "too long")
	}
	if !utf8.ValidString(s) {
		return "", invalid(addr, "not UTF-8")
	}
	if len(s) >= len("rfc822;") && strings.EqualFold(s[:len("rfc822;")], "rfc822;") {
		s = strings.TrimSpace(s[len("rfc822;"):])
	}
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", invalid(addr, "no @")
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return "", invalid(addr, "empty local part")
	}
	if domain == "" {
		return "", invalid(addr, "empty domain")
	}
	if why := checkLocal(local); why != "" {
		return "", invalid(addr, why)
	}
	domain, why := normalizeDomain(domain)
	if why != "" {
		return "", invalid(addr, why)
	}
	out := strings.ToLower(local + "@" + domain) // the domain is lower-case already unless plain
	if len(out) > maxAddressLen {
		return "", invalid(addr, fmt.Sprintf("longer than %d bytes", maxAddressLen))
	}
	return out, nil
}

func invalid(addr, why string) error {
	if len(addr) > 80 {
		addr = Clip(addr, 80) + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidAddress, addr, why)
}

// checkLocal returns why local is not a usable dot-atom local part, or "".
// It accepts non-ASCII (RFC 6531) but no spaces, controls or the specials that
// only appear in quoted local parts or around addresses.
func checkLocal(local string) string {
	for i := 0; i < len(local); i++ {
		if c := local[i]; c >= utf8.RuneSelf {
			return checkLocalUnicode(local[i:])
		} else if !atext[c] {
			return fmt.Sprintf("%q in local part", c)
		}
	}
	return ""
}

// atext holds the ASCII bytes allowed in a local part: printable, not
// space, not a special. Dots are allowed anywhere, see Normalize.
var atext = func() (t [utf8.RuneSelf]bool) {
	for c := byte('!'); c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`"(),:;<>@[\]`, rune(c))
	}
	return t
}()

func checkLocalUnicode(local string) string {
	for _, r := range local {
		switch {
		case r < utf8.RuneSelf && !atext[r]:
			return fmt.Sprintf("%q in local part", r)
		case unicode.IsSpace(r):
			return "space in local part"
		case unicode.IsControl(r):
			return "control character in local part"
		}
	}
	return ""
}

// normalizeDomain returns the canonical ASCII form of domain, or why it has none.
func normalizeDomain(domain string) (string, string) {
	if strings.HasPrefix(domain, "[") {
		return normalizeLiteral(domain)
	}
	domain = strings.TrimSuffix(domain, ".")
	if plainHost(domain) {
		return domain, "" // Normalize lower-cases it with the local part
	}
	ascii, err := domainProfile.ToASCII(domain)
	if err != nil {
		return "", "domain: " + err.Error()
	}
	ascii = strings.ToLower(ascii) // a no-op unless the input was already punycode
	if why := checkDomain(ascii); why != "" {
		return "", why
	}
	return ascii, ""
}

// plainHost reports whether domain is one that the IDNA mapping would only
// lower-case: ASCII labels of letters, digits, underscores and inner
// hyphens, none with "--" (which covers the "xn--" punycode prefix). Almost
// every address is one, and Check normalises 100,000 at a time, so these
// skip the mapping; TestPlainHostMatchesIDNA holds the two to the same answer.
func plainHost(domain string) bool {
	if domain == "" || len(domain) > 253 {
		return false
	}
	start := 0 // of the current label
	for i := 0; i <= len(domain); i++ {
		if i == len(domain) || domain[i] == '.' {
			n := i - start
			if n == 0 || n > 63 || domain[i-1] == '-' {
				return false
			}
			start = i + 1
			continue
		}
		switch c := domain[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case c == '-':
			if i == start || domain[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// checkDomain returns why an ASCII domain is not a host name, or "".
func checkDomain(domain string) string {
	if len(domain) > 253 {
		return "domain longer than 253 bytes"
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return "empty label in domain"
		}
		if len(label) > 63 {
			return "domain label longer than 63 bytes"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("%q in domain", c)
			}
		}
	}
	return ""
}

// normalizeLiteral handles an address literal, RFC 5321 s4.1.3:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func normalizeLiteral(domain string) (string, string) {
	if !strings.HasSuffix(domain, "]") {
		return "", "unterminated address literal"
	}
	inner := domain[1 : len(domain)-1]
	v6 := len(inner) >= 5 && strings.EqualFold(inner[:5], "ipv6:")
	if v6 {
		inner = inner[5:]
	}
	ip, err := netip.ParseAddr(inner)
	if err != nil || ip.Zone() != "" || ip.Is6() != v6 {
		return "", "bad address literal"
	}
	if v6 {
		return "[ipv6:" + ip.String() + "]", ""
	}
	return "[" + ip.String() + "]", ""
}
