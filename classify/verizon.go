package classify

import (
	"strings"
)

// Verizon Wireless's MMS gateway (vzwpix.com, vtext.com) answers mail it
// cannot hand to a phone with "Message could not be delivered to mobile."
// and an "Error:" line; it names the recipient only in the summary of the
// original message that follows.
func init() {
	register(decoder{name: "verizon", order: orderMTA, decode: decodeVerizon})
}

var (
	vzSignature = markers("message could not be delivered to mobile")
	vzOriginal  = markers("original message:")
	vzErrorRe   = mustFastRe(`(?im)^\s*Error:\s*(.+)$`)
	vzToRe      = mustFastRe(`(?im)^\s*To:\s*(.+)$`)
)

func decodeVerizon(m *message) []Verdict {
	if !m.textMatches(vzSignature) {
		return nil
	}
	orig, ok := m.textAfter(vzOriginal)
	if !ok {
		return nil
	}
	to := vzToRe.FindStringSubmatch(orig)
	if to == nil {
		return nil
	}
	f := finding{recipient: firstAddress(to[1]), action: "failed"}
	if e := vzErrorRe.FindStringSubmatch(m.textBefore(vzOriginal)); e != nil {
		f.diagnostic = strings.TrimSpace(e[1])
	}
	if strings.Contains(strings.ToLower(f.diagnostic), "no valid recipients") {
		// The gateway's word for a number that has no (MMS) subscriber.
		f.reason, f.rule = UserUnknown, "verizon-no-valid-recipients"
	}
	return []Verdict{decide("verizon", f)}
}
