package classify

import (
	"strings"
)

// The Postfix decoder reads the human-readable part of a Postfix bounce
// when no message/delivery-status part is there to read (old Postfix,
// relays that strip it, an empty "Delivery report unavailable"). Each
// failed address opens a paragraph at the left margin, "<user@example.org>:
// host mx.example.org[192.0.2.1] said: 550 ... (in reply to RCPT TO
// command)", continued on lines indented by four spaces up to a blank
// line: a line at the margin before the blank line continues it too, as a
// relay that rewraps the text at another width writes it.
func init() {
	register(decoder{name: "postfix-text", order: orderMTA, decode: decodePostfixText})
}

var (
	pfSignature = markers("this is the postfix program at host", "this is the mail system at host")
	pfWarning   = markers("this is a warning only", "delayed mail (still being retried)")
	pfSuccess   = markers("successful mail delivery report", "your message was successfully delivered to the destination")
	pfAddrRe    = mustFastRe(`^<([^<>\s]+@[^<>\s]+)>(?: \(expanded from <([^<>]*)>\))?:\s*(.*)$`)
	// pfHostSaidRe is a paragraph of Postfix's layout, which relays and old
	// versions send without the signature or a delivery-status part.
	pfHostSaidRe = mustFastRe(`(?m)^<[^<>\s]+@[^<>\s]+>(?: \(expanded from <[^<>]*>\))?: host\s+\S+\s+said: `)
	pfSaidRe     = mustFastRe(`(?i)^host (\S+?)(?:\[[0-9a-f.:]+\])? said:\s*`)
	// Postfix's resolver texts for a DNS failure it would have retried.
	pfTryAgain = markers("host not found, try again", "temporary failure in name resolution")
)

func decodePostfixText(m *message) []Verdict {
	if !m.textMatches(pfSignature) && !(m.textMatches(pfHostSaidRe) && fbLooksLikeBounce(m)) {
		return nil
	}
	action := "failed"
	switch {
	case pfWarning.MatchString(m.get("Subject")) || m.textMatches(pfWarning):
		action = "delayed"
	case pfSuccess.MatchString(m.get("Subject")) || m.textMatches(pfSuccess):
		action = "delivered"
	}
	text, _ := m.textAfter(pfSignature)
	text = cutAtRe(text, fbOriginal)
	senders := senderAddresses(m, "")
	type block struct {
		addr, from string // from: the alias it was expanded from
		text       []string
	}
	var blocks []block
	open := false // whether the lines that follow continue the last block
	blank := false
	for _, line := range textLines(text) {
		if mm := pfAddrRe.FindStringSubmatch(line); mm != nil {
			if a := cleanAddress(mm[1]); a != "" {
				blocks = append(blocks, block{addr: a, from: cleanAddress(mm[2]), text: []string{mm[3]}})
				open, blank = true, false
				continue
			}
		}
		switch {
		case strings.TrimSpace(line) == "":
			blank = true
		case open && (indentOf(line) > 0 || !blank):
			b := &blocks[len(blocks)-1]
			b.text = append(b.text, strings.TrimSpace(line))
			blank = false
		default:
			open = false // a paragraph at the margin ends the block
		}
	}
	var out []Verdict
	for _, b := range blocks {
		diag := strings.Join(strings.Fields(strings.Join(b.text, " ")), " ")
		f := finding{recipient: b.addr, action: action}
		if mm := pfSaidRe.FindStringSubmatchIndex(diag); mm != nil {
			f.remoteMTA = diag[mm[2]:mm[3]]
			diag = diag[mm[1]:]
		}
		f.diagnostic = diag
		if pfTryAgain.MatchString(diag) {
			// The resolver could not answer, which says nothing yet
			// about whether the domain exists.
			f.temporary = true
			f.reason, f.rule = NetworkError, "postfix-dns-try-again"
		}
		v := decideStaged("postfix-text", f, stageOf(diag), senders)
		out = append(out, v)
		if b.from != "" && b.from != b.addr {
			// The address the sender used, before an alias expanded it.
			v.Recipient = b.from
			out = append(out, v)
		}
	}
	return out
}
