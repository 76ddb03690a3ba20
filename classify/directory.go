package classify

// The directory decoder reads the bounces of directory gateways, which
// universities, laboratories and large organisations put in front of
// their mail: the gateway looks the address up in the campus directory
// (ph/qi, X.500, LDAP) and returns the message when the name matches no
// one ("No matches to nameserver query", "did not exactly match an ...
// email address", "does not have a final email delivery point"). The
// address is dead for the sender, whatever the wording; the addresses are
// found as the fallback finds them, and often only as a local part the
// gateway's own domain qualifies.
func init() {
	register(decoder{name: "directory", order: orderMTA, decode: decodeDirectory})
}

var dirNoMatch = markers(
	"no matches to nameserver query",
	"no match for nameserver query",
	"no matches to directory query",
	"did not exactly match an",
	"did not match any directory entry",
	"does not have a final email delivery point",
	"does not have a final e-mail delivery point",
)

func decodeDirectory(m *message) []Verdict {
	if !m.mayContain(dirNoMatch) || !m.textMatches(dirNoMatch) {
		return nil
	}
	vs := decodeFallback(m)
	para, paraRead := "", false // the text's first paragraph, read once
	for i, v := range vs {
		if v.Class == Hard || v.Class == Delayed || v.Recipient == "" {
			continue
		}
		f := finding{recipient: v.Recipient, action: v.Action, diagnostic: v.Diagnostic, status: v.Status,
			reason: UserUnknown, rule: "directory-no-match"}
		if f.diagnostic == "" {
			if !paraRead {
				para, paraRead = firstParagraph(m.text), true
			}
			f.diagnostic = para
		}
		vs[i] = decide("directory", f)
	}
	return vs
}
