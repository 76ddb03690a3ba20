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
	out := strings.ToLower(local) + "@" + domain
	if len(out) > maxAddressLen {
		return "", invalid(addr, fmt.Sprintf("longer than %d bytes", maxAddressLen))
	}
	return out, nil
}

func invalid(addr, why string) error {
	if len(addr) > 80 {
		addr = addr[:80] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidAddress, addr, why)
}

// checkLocal returns why local is not a usable dot-atom local part, or "".
// It accepts non-ASCII (RFC 6531) but no spaces, controls or the specials that
// only appear in quoted local parts or around addresses.
func checkLocal(local string) string {
	for _, r := range local {
		switch {
		case unicode.IsSpace(r):
			return "space in local part"
		case unicode.IsControl(r):
			return "control character in local part"
		case strings.ContainsRune(`"(),:;<>@[\]`, r):
			return fmt.Sprintf("%q in local part", r)
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
