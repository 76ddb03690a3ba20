package classify

import (
	"strings"
)

// MailFoundry gateways bounce with "Unable to deliver message to:
// <user@example.org>", then "Delivery failed for the following reason:" and
// the remote server's reply after "Server mx[ip] failed with:".
func init() {
	register(decoder{name: "mailfoundry", order: orderMTA, decode: decodeMailFoundry})
}

var (
	mfoundryReason = markers("delivery failed for the following reason:")
	mfoundryRcptRe = mustFastRe(`(?i)unable to deliver message to:\s*<?([^<>\s]+@[^<>\s]+?)>?\s*$`)
	mfoundryHostRe = mustFastRe(`(?i)server (\S+?)(?:\[[0-9a-f.:]+\])? failed with:\s*`)
)

func decodeMailFoundry(m *message) []Verdict {
	reason, ok := m.textAfter(mfoundryReason)
	if !ok {
		return nil
	}
	var rcpt string
	for _, l := range textLines(m.textBefore(mfoundryReason)) {
		if mm := mfoundryRcptRe.FindStringSubmatch(strings.TrimSpace(l)); mm != nil {
			rcpt = mm[1]
		}
	}
	if rcpt == "" {
		return nil
	}
	diag := firstParagraph(reason)
	f := finding{recipient: rcpt, action: "failed"}
	if mm := mfoundryHostRe.FindStringSubmatchIndex(diag); mm != nil {
		f.remoteMTA = diag[mm[2]:mm[3]]
		diag = diag[mm[1]:]
	}
	f.diagnostic = diag
	return []Verdict{decideStaged("mailfoundry", f, stageOf(diag), senderAddresses(m, ""))}
}
