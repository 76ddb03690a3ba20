package classify

import (
	"strings"
)

// The Netscape decoder reads the plain-text reports of Netscape Messaging
// Server and of its heirs (iPlanet, Sun ONE / Sun Java System Messaging
// Server, and PMDF before them), for when no delivery-status part names
// the recipients. Netscape gives one reason, then lists the recipients it
// concerns:
//
//	This Message was undeliverable due to the following reason:
//
//	Your message was not delivered because the destination computer was
//	not reachable within the allowed queue period. ...
//
//	The following recipients did not receive your message:
//
//	     <user@example.org>
//
// iPlanet, Sun and PMDF give a block per recipient, the address the
// sender used among them:
//
//	Your message cannot be delivered to the following recipients:
//
//	  Recipient address: USER@mailstore.example.org
//	  Original address: user@example.org
//	  Reason: recipient reached disk quota
func init() {
	register(decoder{name: "netscape", order: orderMTA, decode: decodeNetscape})
}

var (
	nsReason     = markers("was undeliverable due to the following reason:")
	nsRecipients = markers("the following recipients did not receive your message:")
	nsSunList    = markers("your message cannot be delivered to the following recipients:")
	// nsSunFieldRe is a field of a Sun/PMDF recipient block.
	nsSunFieldRe = mustFastRe(`(?i)^(recipient address|original address|reason):\s*(.*)$`)
)

func decodeNetscape(m *message) []Verdict {
	if m.mayContain(nsSunList) {
		if vs := decodeSunText(m); len(vs) > 0 {
			return vs
		}
	}
	if !m.mayContain(nsRecipients) {
		return nil
	}
	reason := ""
	if r, ok := m.textAfter(nsReason); ok {
		reason = strings.Join(strings.Fields(cutAtRe(r, nsRecipients)), " ")
	}
	list, ok := m.textAfter(nsRecipients)
	if !ok {
		return nil
	}
	senders := senderAddresses(m, "")
	stage := stageOf(reason) // one reason for all the recipients
	var out []Verdict
	blank := 0
	for _, line := range textLines(list) {
		t := strings.TrimSpace(line)
		if t == "" {
			blank++
			continue
		}
		if nsRecipients.MatchString(t) {
			continue // the next list: the same reason for more recipients
		}
		a, _, ok := leadingAddress(t)
		if !ok {
			if len(out) > 0 && blank > 0 {
				break // the text after the last list
			}
			continue
		}
		blank = 0
		f := finding{recipient: a, action: "failed", diagnostic: reason}
		out = append(out, decideStaged("netscape", f, stage, senders))
		if len(out) >= 32 {
			break
		}
	}
	return out
}

// decodeSunText reads the recipient blocks of iPlanet, Sun and PMDF.
func decodeSunText(m *message) []Verdict {
	list, ok := m.textAfter(nsSunList)
	if !ok {
		return nil
	}
	// A reason folded over lines is joined once it ends: appending each
	// line to it would copy it once per line.
	type block struct {
		rcpt, orig, reason string
		folded             []string
	}
	var bs []block
	field := ""
	for _, line := range textLines(list) {
		t := strings.TrimSpace(line)
		if t == "" {
			field = ""
			continue
		}
		mm := nsSunFieldRe.FindStringSubmatch(t)
		if mm == nil {
			if field == "reason" && indentOf(line) > 0 && len(bs) > 0 {
				bs[len(bs)-1].folded = append(bs[len(bs)-1].folded, t) // a reason folded over lines
				continue
			}
			if len(bs) > 0 {
				break
			}
			continue
		}
		field = strings.ToLower(mm[1])
		switch field {
		case "recipient address":
			bs = append(bs, block{rcpt: cleanAddress(mm[2])})
		case "original address":
			if len(bs) > 0 {
				bs[len(bs)-1].orig = cleanAddress(mm[2])
			}
		case "reason":
			if len(bs) > 0 {
				bs[len(bs)-1].reason, bs[len(bs)-1].folded = mm[2], nil
			}
		}
		if len(bs) >= 32 {
			break
		}
	}
	senders := senderAddresses(m, "")
	var out []Verdict
	for _, b := range bs {
		if len(b.folded) > 0 {
			b.reason += " " + strings.Join(b.folded, " ")
		}
		var addrs []string
		if b.rcpt != "" && (b.orig == "" || dottedDomain(b.rcpt)) {
			// A mailbox store's own name ("user@ims-ms-daemon") is no
			// address anyone can send to.
			addrs = append(addrs, b.rcpt)
		}
		if b.orig != "" && b.orig != b.rcpt {
			addrs = append(addrs, b.orig)
		}
		stage := stageOf(b.reason)
		for _, a := range addrs {
			f := finding{recipient: a, action: "failed", diagnostic: b.reason}
			out = append(out, decideStaged("netscape", f, stage, senders))
		}
	}
	return out
}
