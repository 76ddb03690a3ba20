package classify

import (
	"strings"
)

// A bounce format of a Japanese hosting MTA (Sisimai's "X3"): "Delivery to
// the following recipients failed permanently:" (or "was aborted after N
// hour(s)", sic "Delevery" in some versions), "* user@example.org" lines,
// then a "Technical details:" section with the reason.
func init() {
	register(decoder{name: "x3", order: orderMTA, decode: decodeX3})
}

var (
	x3Signature = markers("this is an automatically generated delivery status notification")
	x3Start     = markers("to the following recipients failed permanently:", "to the following recipients was aborted after",
		"to the following recipients has been delayed")
	x3Aborted   = markers("was aborted after")
	x3Delayed   = markers("has been delayed")
	x3Technical = markers("technical details:")
	x3Rule      = markers("=====")
)

func decodeX3(m *message) []Verdict {
	if !m.textMatches(x3Signature) {
		return nil
	}
	section, ok := m.textAfter(x3Start)
	if !ok {
		return nil
	}
	list := cutAtRe(cutAtRe(section, x3Technical), x3Rule)
	details := ""
	if d, ok := afterRe(section, x3Technical); ok {
		details = strings.Join(strings.Fields(cutAtRe(d, x3Rule)), " ")
	}
	action := "failed"
	if m.textMatches(x3Delayed) {
		action = "delayed"
	}
	// It gave up after hours of trying: the details say what it last
	// met, the time limit is why it stopped.
	aborted := m.textMatches(x3Aborted) && replyCodeInText(details) == 0
	senders := senderAddresses(m, "")
	stage := stageOf(details)
	var out []Verdict
	for _, line := range textLines(list) {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "*") {
			continue
		}
		addr, _, ok := leadingAddress(t)
		if !ok {
			continue
		}
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		f := finding{recipient: addr, action: action, diagnostic: details}
		if aborted {
			f.reason, f.rule = Expired, "x3-aborted"
		}
		out = append(out, decideStaged("x3", f, stage, senders))
	}
	return out
}
