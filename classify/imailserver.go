package classify

import (
	"strings"
)

// Ipswitch IMail Server (X-Mailer: <SMTP32 vX>) bounces with one line per
// failed recipient that starts with its own fixed message ("Unknown user:
// user@example.org"), or, for a remote refusal, "undeliverable to
// user@example.org" followed by the server's reply under "Body of message
// generated response:".
func init() {
	register(decoder{name: "imailserver", order: orderMTA, decode: decodeIMail})
}

var (
	imailEnd      = markers("original message follows.")
	imailResponse = markers("body of message generated response:")
	// IMail's own messages, and what they mean.
	imailMessages = []struct {
		prefix string
		reason Reason
	}{
		{"unknown user:", UserUnknown},
		{"invalid final delivery userid:", UserUnknown},
		{"user mailbox exceeds allowed size:", MailboxFull},
		{"requested mail action not taken: mailbox unavailable", UserUnknown},
		{"host unknown:", DomainUnknown},
		{"undeliverable to", ""},
		{"delivery failed:", ""},
	}
	imailAddrRe = mustFastRe(`[^\s<>]+@[^\s<>]+`)
)

func decodeIMail(m *message) []Verdict {
	if !strings.HasPrefix(strings.TrimSpace(m.get("X-Mailer")), "<SMTP32 ") {
		return nil
	}
	text := m.textBefore(imailEnd)
	response := ""
	if r, ok := afterRe(text, imailResponse); ok {
		response = joinReply(textLines(firstParagraph(r)))
	}
	senders := senderAddresses(m, "")
	var out []Verdict
	for _, line := range textLines(text) {
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		t := strings.TrimSpace(line)
		lower := strings.ToLower(t)
		for _, msg := range imailMessages {
			if !strings.HasPrefix(lower, msg.prefix) {
				continue
			}
			addr := cleanAddress(imailAddrRe.FindString(t[len(msg.prefix):]))
			if addr == "" {
				break
			}
			f := finding{recipient: addr, action: "failed", diagnostic: t}
			if msg.reason != "" {
				f.reason, f.rule = msg.reason, "imail-"+strings.TrimSuffix(strings.ReplaceAll(msg.prefix, " ", "-"), ":")
			} else if response != "" {
				f.diagnostic = response
			}
			out = append(out, decideStaged("imailserver", f, stageOf(f.diagnostic), senders))
			break
		}
	}
	return out
}
