package classify

import (
	"strings"
)

// A bounce format of Japanese ISP gateways (Sisimai's "X1"; Mail2000 and
// similar): "---The following addresses had delivery errors---", then one
// line per recipient, "user@example.org [reason]".
func init() {
	register(decoder{name: "x1", order: orderMTA, decode: decodeX1})
}

var (
	x1Start  = markers("---the following addresses had delivery errors---")
	x1LineRe = mustFastRe(`^\s*<?([^<>\s\[]+@[^<>\s\[]+?)>?\s+\[(.+)\]\s*$`)
)

func decodeX1(m *message) []Verdict {
	section, ok := m.textAfter(x1Start)
	if !ok {
		return nil
	}
	senders := senderAddresses(m, "")
	var out []Verdict
	for _, line := range textLines(section) {
		mm := x1LineRe.FindStringSubmatch(line)
		if mm == nil {
			if strings.TrimSpace(line) != "" && len(out) > 0 {
				break
			}
			continue
		}
		f := finding{recipient: mm[1], action: "failed", diagnostic: mm[2]}
		out = append(out, decideStaged("x1", f, stageUnknown, senders))
	}
	return out
}
