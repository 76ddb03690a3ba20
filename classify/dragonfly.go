package classify

import (
	"strings"
)

// The DragonFly Mail Agent (dma), the small MTA of DragonFly BSD and
// FreeBSD, bounces in one short paragraph per message: "There was an error
// delivering your mail to <user@example.org>.", then the remote server's
// reply after "host [ip] did not like our RCPT TO:", or dma's own reason.
func init() {
	register(decoder{name: "dragonfly", order: orderMTA, decode: decodeDragonFly})
}

var (
	dmaSignature = markers("this is the dragonfly mail agent")
	dmaEnd       = markers("message headers follow.", "original message follows.")
	// Words apart by any blank: a narrower template wraps the sentence.
	dmaRcptRe = mustFastRe(`(?i)there\s+was\s+an\s+error\s+delivering\s+your\s+mail\s+to\s+<([^<>\s]+)>`)
	dmaHostRe = mustFastRe(`(?im)^(\S+)(?: \[[0-9a-f.:]+\])? did not like our [^:\n]+:`)
)

func decodeDragonFly(m *message) []Verdict {
	if !m.textMatches(dmaSignature) {
		return nil
	}
	text := m.textBefore(dmaEnd)
	loc := dmaRcptRe.FindStringSubmatchIndex(text)
	if loc == nil {
		return nil
	}
	rest := text[loc[1]:]
	f := finding{recipient: text[loc[2]:loc[3]], action: "failed"}
	var lines []string
	for _, l := range textLines(rest) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if h := dmaHostRe.FindStringSubmatchIndex(rest); h != nil {
		f.remoteMTA = rest[h[2]:h[3]]
		f.diagnostic = joinReply(textLines(rest[h[1]:]))
	} else {
		f.diagnostic = strings.TrimLeft(strings.Join(lines, " "), ". ")
	}
	return []Verdict{decideStaged("dragonfly", f, stageOf(rest), senderAddresses(m, ""))}
}
