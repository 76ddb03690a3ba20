package classify

import (
	"strings"
)

// 1&1 and GMX (both United Internet: web.de, mail.com, kundenserver.de)
// word their bounces like Exim's but lay them out their own way: the
// failed address at the left margin, often in quotes, and the explanation
// on the lines below it, also at the left margin, or after "For the
// following reason:". It runs before the Exim decoder, whose opening
// sentence it shares.
func init() {
	register(decoder{name: "1and1", order: orderMTA - 1, decode: decodeOneAndOne})
}

var (
	uiSignature   = markers("--- the header of the original message is following. ---")
	uiStart       = markers("the following address failed:", "the following addresses failed:", "the following address(es) failed:")
	uiReason      = markers("for the following reason:")
	uiReasonField = markers(" reason: ")
)

func decodeOneAndOne(m *message) []Verdict {
	if !m.textMatches(uiSignature) {
		return nil
	}
	section, ok := m.textAfter(uiStart)
	if !ok {
		return nil
	}
	section = cutAtRe(section, uiSignature)
	senders := senderAddresses(m, section)
	type block struct {
		addr  string
		lines []string
	}
	var blocks []block
	for _, line := range textLines(section) {
		t := strings.TrimSpace(line)
		if t == "" || uiReason.MatchString(t) {
			continue
		}
		if addr, rest, ok := leadingAddress(t); ok && (rest == "" || strings.HasPrefix(t, `"`)) {
			blocks = append(blocks, block{addr: addr})
			continue
		}
		if len(blocks) > 0 {
			b := &blocks[len(blocks)-1]
			b.lines = append(b.lines, t)
		}
	}
	var out []Verdict
	for _, b := range blocks {
		text := strings.Join(b.lines, "\n")
		f := finding{recipient: b.addr, action: "failed", remoteMTA: remoteHostIn(text)}
		var diag []string
		for _, l := range b.lines {
			if r, ok := afterRe(l, uiReasonField); ok {
				diag = append(diag, strings.TrimSpace(r)) // "... host: mx (ip) reason: 550 ..."
				continue
			}
			lower := strings.ToLower(l)
			if strings.HasPrefix(lower, "smtp error from") || strings.HasPrefix(lower, "host:") {
				continue
			}
			diag = append(diag, l)
		}
		f.diagnostic = strings.Join(diag, " ")
		out = append(out, decideStaged("1and1", f, stageOf(text), senders))
	}
	return out
}
