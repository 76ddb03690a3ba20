// Package verp decodes VERP return paths (variable envelope return paths,
// https://cr.yp.to/proto/verp.txt) in the convention Mailgun and most list
// managers use: the original recipient alice@example.org is encoded into the
// return path bounces@bounce.example.com as
// bounces+alice=example.org@bounce.example.com, the separator ("+" here)
// being configurable.
//
// It also makes and checks signed return paths (sign.go), which carry an
// expiry and an HMAC so that a bounce cannot be forged to name a recipient
// the sender never wrote to. Senders may import it to sign their own
// return paths; it depends on nothing else in bouncesink.
package verp

import "strings"

// Split cuts a VERP address into the return path it was built from and the
// tag: "bounces+alice=example.org@bounce.example.com" gives
// "bounces@bounce.example.com" and "alice=example.org". ok is false when the
// address carries no non-empty tag.
//
// The tag starts after the first separator, because the original
// recipient's local part may itself contain the separator
// (alice+news@example.org), while the return path's local part does not.
func Split(addr, sep string) (base, tag string, ok bool) {
	if sep == "" {
		return "", "", false
	}
	local, domain, ok := splitAddr(addr)
	if !ok {
		return "", "", false
	}
	base, tag, found := strings.Cut(local, sep)
	if !found || base == "" || tag == "" {
		return "", "", false
	}
	return base + "@" + domain, tag, true
}

// Decode returns the original recipient encoded in a VERP address:
// "bounces+alice=example.org@bounce.example.com" with sep "+" gives
// "alice@example.org". The tag is split on its last '=', since a domain
// never contains one but a local part may. ok is false for an address
// without a well-formed tag.
func Decode(addr, sep string) (original string, ok bool) {
	_, tag, ok := Split(addr, sep)
	if !ok {
		return "", false
	}
	eq := strings.LastIndexByte(tag, '=')
	if eq <= 0 || eq == len(tag)-1 {
		return "", false
	}
	local, domain := tag[:eq], tag[eq+1:]
	if strings.ContainsAny(domain, "@ \t") || strings.ContainsAny(local, "@ \t") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", false
	}
	return local + "@" + domain, true
}
