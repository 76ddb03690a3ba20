package classify

import (
	"strings"
)

// m-FILTER (Digital Arts) bounces, in Japanese, list the failed addresses
// on lines of their own, then the remote reply under "-------server
// message" and the refused command under "-------SMTP command".
func init() {
	register(decoder{name: "mfilter", order: orderMTA, decode: decodeMFilter})
}

var (
	mfServer  = markers("-------server message")
	mfCommand = markers("-------smtp command")
	mfEnd     = markers("-------original message", "-------original mail info")
)

func decodeMFilter(m *message) []Verdict {
	head, ok := m.textAfter(mfServer)
	if !ok || !m.textMatches(mfCommand) {
		return nil
	}
	before := m.textBefore(mfServer)
	diag := strings.Join(strings.Fields(cutAtRe(cutAtRe(head, mfCommand), mfEnd)), " ")
	cmd := ""
	if c, ok := m.textAfter(mfCommand); ok {
		cmd = normCommand(firstParagraph(cutAtRe(c, mfEnd)))
	}
	senders := senderAddresses(m, "")
	stage := stageOf(diag)
	var out []Verdict
	for _, line := range textLines(before) {
		addr, rest, ok := leadingAddress(line)
		if !ok || rest != "" {
			continue
		}
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		f := finding{recipient: addr, action: "failed", diagnostic: diag, command: cmd}
		out = append(out, decideStaged("mfilter", f, stage, senders))
	}
	return out
}
