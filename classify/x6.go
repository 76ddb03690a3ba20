package classify

import (
	"strings"
)

// A bounce format of a hosted filtering service (Sisimai's "X6"): "We had
// trouble delivering your message. Full details follow:", then sentences
// "The following recipients returned permanent errors: a@b, c@d. Reason:
// ... with the following error message: [554 ...]".
func init() {
	register(decoder{name: "x6", order: orderMTA, decode: decodeX6})
}

var (
	x6Signature = markers("we had trouble delivering your message. full details follow:")
	x6LineRe    = mustFastRe(`(?i)the following recipients returned (permanent|temporary) errors:\s*(.+?)\.\s+Reason:\s*(.+)`)
	x6BracketRe = mustFastRe(`\[([245]\d\d[^\]]*)\]`)
)

func decodeX6(m *message) []Verdict {
	if !m.textMatches(x6Signature) {
		return nil
	}
	senders := senderAddresses(m, "")
	var out []Verdict
	for _, line := range textLines(m.text) {
		mm := x6LineRe.FindStringSubmatch(line)
		if mm == nil {
			continue
		}
		diag := mm[3]
		if b := x6BracketRe.FindStringSubmatch(diag); b != nil {
			diag = b[1]
		}
		for _, a := range addressesIn(mm[2]) {
			f := finding{recipient: a, action: "failed", diagnostic: diag, temporary: strings.EqualFold(mm[1], "temporary")}
			out = append(out, decideStaged("x6", f, stageOf(mm[3]), senders))
		}
	}
	return out
}
