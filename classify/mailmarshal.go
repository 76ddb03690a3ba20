package classify

import (
	"strings"
)

// MailMarshal (Trustwave SEG) bounces state the reason once, under "Could
// not be delivered because of", and list the recipients it concerns under
// "The following recipients were affected:"; an "Additional Information"
// block names the Remote-MTA.
func init() {
	register(decoder{name: "mailmarshal", order: orderMTA, decode: decodeMailMarshal})
}

var (
	mmReason     = markers("could not be delivered because of")
	mmRecipients = markers("the following recipients were affected:")
	mmEnd        = markers("additional information", "======================")
	mmRemoteRe   = mustFastRe(`(?im)^\s*Remote-MTA:\s*<?([^<>\s]+)>?`)
)

func decodeMailMarshal(m *message) []Verdict {
	reasonText, ok := m.textAfter(mmReason)
	if !ok {
		return nil
	}
	list, ok := afterRe(reasonText, mmRecipients)
	if !ok {
		return nil
	}
	diag := strings.Join(strings.Fields(cutAtRe(reasonText, mmRecipients)), " ")
	remote := ""
	if mm := m.textSubmatch(mmRemoteRe); mm != nil {
		remote = mm[1]
	}
	senders := senderAddresses(m, "")
	stage := stageOf(diag)
	var out []Verdict
	for _, a := range addressesIn(cutAtRe(list, mmEnd)) {
		f := finding{recipient: a, action: "failed", diagnostic: diag, remoteMTA: remote}
		out = append(out, decideStaged("mailmarshal", f, stage, senders))
	}
	return out
}
