package classify

import (
	"strings"
)

// Courier's human-readable report, read when its message/delivery-status
// part is missing: under "UNDELIVERABLE MAIL" (or "DELAYED MAIL"), each
// recipient as "<user@example.org>:", then the remote host and the SMTP
// dialogue, ">>> RCPT TO:<...>" and "<<< 550 ...".
func init() {
	register(decoder{name: "courier", order: orderMTA, decode: decodeCourier})
}

var (
	courierSignature = markers("running the courier mail server")
	courierFailed    = markers("undeliverable mail")
	courierDelayed   = markers("delayed mail")
	courierEnd       = markers("---------------------------------------------------------------------------")
)

func decodeCourier(m *message) []Verdict {
	if !m.textMatches(courierSignature) {
		return nil
	}
	action := "failed"
	section, ok := m.textAfter(courierFailed)
	if !ok {
		if section, ok = m.textAfter(courierDelayed); !ok {
			return nil
		}
		action = "delayed"
	}
	section = cutAtRe(section, courierEnd)
	senders := senderAddresses(m, "")
	var out []Verdict
	for _, b := range qmailBlocks(section) { // the same "<address>:" paragraphs
		var replies []string
		remote := ""
		for _, l := range textLines(b.text) {
			t := strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(t, "<<<"):
				replies = append(replies, strings.TrimSpace(t[3:]))
			case strings.HasPrefix(t, ">>>"):
			case remote == "" && strings.HasSuffix(t, ":"):
				remote = strings.Fields(t)[0]
			case t != "" && len(replies) == 0:
				replies = append(replies, t)
			}
		}
		f := finding{recipient: b.addr, action: action, diagnostic: joinReply(replies), remoteMTA: strings.TrimSuffix(remote, ":")}
		out = append(out, decideStaged("courier", f, stageOf(b.text), senders))
	}
	return out
}
