package classify

import (
	"strings"
)

// Ipswitch IMail Server (X-Mailer: <SMTP32 vX>, Subject: Undeliverable
// Mail) bounces with one line per failed recipient that starts with its
// own fixed message ("Unknown user: user@example.org", "Delivery failed 20
// attempts: user@example.org"), or, for a remote refusal, "undeliverable
// to user@example.org" followed by the server's reply under "Body of
// message generated response:".
func init() {
	register(decoder{name: "imailserver", order: orderMTA, decode: decodeIMail})
}

var (
	imailEnd      = markers("original message follows.")
	imailResponse = markers("body of message generated response:")
	// IMail's own messages, and what they mean, as the line starts.
	imailMessages = []struct {
		prefix string
		reason Reason
	}{
		{"unknown user:", UserUnknown},
		{"invalid final delivery userid:", UserUnknown},
		{"user mailbox exceeds allowed size:", MailboxFull},
		{"requested mail action not taken: mailbox unavailable", UserUnknown},
		{"host unknown:", DomainUnknown},
		{"unknown host:", DomainUnknown},
		// IMail gave up after retrying: the count follows ("20 attempts").
		{"delivery failed", Expired},
		{"undeliverable to", ""},
	}
	// imailAttemptsRe is the retry count after "Delivery failed".
	imailAttemptsRe = mustFastRe(`^\s*\d+ attempts?\b`)
	imailAddrRe     = mustFastRe(`[^\s<>]+@[^\s<>]+`)
)

func decodeIMail(m *message) []Verdict {
	if !strings.HasPrefix(strings.TrimSpace(m.get("X-Mailer")), "<SMTP32 ") &&
		!strings.EqualFold(strings.TrimSpace(m.get("Subject")), "undeliverable mail") {
		return nil
	}
	text := m.textBefore(imailEnd)
	response := ""
	if r, ok := afterRe(text, imailResponse); ok {
		response = joinReply(textLines(firstParagraph(r)))
	}
	senders := senderAddresses(m, "")
	var out []Verdict
	lines := textLines(text)
	for i, line := range lines {
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		t := strings.Join(strings.Fields(line), " ")
		lower := strings.ToLower(t)
		for _, msg := range imailMessages {
			if !strings.HasPrefix(lower, msg.prefix) {
				continue
			}
			rest := t[len(msg.prefix):]
			if msg.reason == Expired {
				loc := imailAttemptsRe.FindStringIndex(rest)
				if loc == nil {
					break // "Delivery failed:" without a count says nothing more
				}
				rest = rest[loc[1]:]
			}
			addr := cleanAddress(imailAddrRe.FindString(rest))
			if addr == "" && strings.Trim(rest, " :") == "" && i+1 < len(lines) {
				// Its address wrapped to the next line, as a relay that
				// rewraps the text breaks "Delivery failed 20 attempts:
				// user@example.org".
				next := strings.Join(strings.Fields(lines[i+1]), " ")
				if addr = cleanAddress(imailAddrRe.FindString(next)); addr != "" {
					t += " " + next
				}
			}
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
