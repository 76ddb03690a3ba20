package classify

import (
	"strings"
)

// Verizon Wireless's MMS and SMS gateways (vzwpix.com, vtext.com), and the
// other carriers' gateways that answer the same way, reply to mail they
// cannot hand to a phone with "Message could not be delivered to mobile."
// or an "Undeliverable Message" notice, and an "Error:" line; they name
// the recipient in the summary of the original message that follows
// ("To: 5550100@vtext.example"), in a "RCPT TO:" line, or in the error
// itself.
func init() {
	register(decoder{name: "verizon", order: orderMTA, decode: decodeVerizon})
}

var (
	vzSignature = markers("message could not be delivered to mobile")
	vzOriginal  = markers("original message:", "original message follows:", "original message header:")
	vzErrorRe   = mustFastRe(`(?im)^\s*Error:\s*(.+)$`)
	vzToRe      = mustFastRe(`(?im)^\s*To:\s*(.+)$`)
	vzRcptRe    = mustFastRe(`(?im)^\s*RCPT TO:\s*(.+)$`)
	vzSubjectRe = mustFastRe(`(?i)^\s*undeliverable message\s*$`)
)

func decodeVerizon(m *message) []Verdict {
	signed := m.textMatches(vzSignature)
	if !signed && !vzSubjectRe.MatchString(m.get("Subject")) {
		return nil
	}
	e := vzErrorRe.FindStringSubmatch(m.textBefore(vzOriginal))
	if !signed && e == nil {
		return nil
	}
	f := finding{action: "failed"}
	if e != nil {
		f.diagnostic = strings.TrimSpace(e[1])
	}
	// The recipient: a RCPT TO line, the original message's To, or the
	// address the error quotes.
	if r := vzRcptRe.FindStringSubmatch(m.text); r != nil {
		f.recipient = firstAddress(r[1])
	}
	if f.recipient == "" {
		if orig, ok := m.textAfter(vzOriginal); ok {
			if to := vzToRe.FindStringSubmatch(orig); to != nil {
				f.recipient = firstAddress(to[1])
			}
		}
	}
	if f.recipient == "" {
		f.recipient = firstAddress(f.diagnostic)
	}
	if f.recipient == "" {
		return nil
	}
	if !signed && siteOf(domainOf(f.recipient)) != siteOf(domainOf(firstAddress(m.get("From")))) {
		// Without the gateway's own words, only a notice about one of the
		// gateway's own numbers is read here.
		return nil
	}
	if strings.Contains(strings.ToLower(f.diagnostic), "no valid recipients") {
		// The gateway's word for a number that has no (MMS) subscriber.
		f.reason, f.rule = UserUnknown, "verizon-no-valid-recipients"
	}
	return []Verdict{decide("verizon", f)}
}
