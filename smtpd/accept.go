package smtpd

import (
	"fmt"
	"strings"

	"github.com/bouncesink/bouncesink/verp"
)

// acceptList decides which RCPT TO addresses are return paths of ours.
// Everything else is refused, so the sink can never be used as a relay.
type acceptList struct {
	exact   map[string]bool // "bounces@news.example.com"
	domains map[string]bool // "bounce.example.com", from "@bounce.example.com"
	sep     string          // VERP separator; "" disables the VERP form
}

// newAcceptList parses entries of the form "local@domain" or "@domain".
func newAcceptList(entries []string, sep string) (*acceptList, error) {
	a := &acceptList{exact: map[string]bool{}, domains: map[string]bool{}, sep: sep}
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		at := strings.LastIndexByte(e, '@')
		switch {
		case at < 0 || at == len(e)-1 || strings.ContainsAny(e, " \t<>"):
			return nil, fmt.Errorf("smtpd: accept entry %q: want local@domain or @domain", e)
		case at == 0:
			a.domains[e[1:]] = true
		default:
			a.exact[e] = true
		}
	}
	return a, nil
}

// accepts reports whether rcpt is one of our return paths: an exact
// address, any address in an accepted domain, or the VERP form
// local+TAG@domain of an accepted exact address. Matching ignores case.
func (a *acceptList) accepts(rcpt string) bool {
	rcpt = strings.ToLower(rcpt)
	at := strings.LastIndexByte(rcpt, '@')
	if at <= 0 || at == len(rcpt)-1 {
		return false
	}
	if a.exact[rcpt] || a.domains[rcpt[at+1:]] {
		return true
	}
	base, _, ok := verp.Split(rcpt, a.sep)
	return ok && a.exact[base]
}
