package classify

import (
	"strings"
)

// The decoder for sendmail before version 8 ("V5", still seen from old
// Unix hosts) and for any sendmail bounce that carries no
// message/delivery-status part: a session transcript in which each failed
// address gets a line "554 <user@example.org>... reason", after the
// ">>> command" and "<<< reply" lines of the SMTP dialogue that led to it.
func init() {
	register(decoder{name: "sendmail-text", order: orderMTA, decode: decodeV5Sendmail})
}

var (
	smTranscript = markers("----- transcript of session follows -----")
	smEnd        = markers("----- unsent message follows -----", "----- original message follows -----",
		"----- message header follows -----", "----- returned message follows -----")
	// smRcptRe matches "554 <user@example.org>... 550 Host unknown".
	smRcptRe = mustFastRe(`^([245]\d\d)[ \-]<?([^<>\s]+@[^<>\s]+?)>?\.\.\.\s*(.*)$`)
)

func decodeV5Sendmail(m *message) []Verdict {
	section, ok := m.textAfter(smTranscript)
	if !ok {
		return nil
	}
	section = cutAtRe(section, smEnd)
	senders := senderAddresses(m, section)
	var out []Verdict
	var dialogue []string // the ">>>" and "<<<" lines since the last recipient
	for _, line := range textLines(section) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, ">>>") || strings.HasPrefix(t, "<<<") || strings.HasPrefix(strings.ToLower(t), "while talking to") {
			dialogue = append(dialogue, t)
			continue
		}
		mm := smRcptRe.FindStringSubmatch(t)
		if mm == nil {
			continue
		}
		f := finding{recipient: mm[2], action: "failed", diagnostic: mm[3]}
		var replies []string
		for _, d := range dialogue {
			if strings.HasPrefix(d, "<<<") {
				replies = append(replies, strings.TrimSpace(strings.TrimPrefix(d, "<<<")))
			}
			if h, ok := strings.CutPrefix(strings.ToLower(d), "while talking to "); ok {
				f.remoteMTA = strings.TrimSuffix(strings.TrimSpace(h), ":")
			}
		}
		if len(replies) > 0 {
			// The remote server's own words, not sendmail's summary of
			// them ("Remote protocol error"), say what went wrong.
			f.diagnostic = joinReply(replies)
		}
		if mm[1][0] == '4' || strings.Contains(strings.ToLower(mm[3]), "deferred") {
			f.temporary = true
		}
		out = append(out, decideStaged("sendmail-text", f, stageOf(strings.Join(dialogue, "\n")), senders))
		dialogue = nil
	}
	return out
}
