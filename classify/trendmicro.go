package classify

import (
	"strings"
)

// Trend Micro InterScan Messaging Security Suite (and InterScan VirusWall)
// returns mail in a multipart/mixed whose text quotes the SMTP exchange:
//
//	Sent <<< RCPT TO:<user@example.org>
//	Received >>> 550 5.1.1 <user@example.org>... user unknown
//
// or states the failure in one line:
//
//	Reason:  Unable to deliver message to <user@example.org> (and other recipients in the same domain).
func init() {
	register(decoder{name: "trendmicro", order: orderMTA - 1, decode: decodeTrendMicro})
}

func decodeTrendMicro(m *message) []Verdict {
	if !strings.Contains(m.fromLower(), "interscan") && !strings.Contains(m.text, "InterScan") &&
		!strings.Contains(strings.ToLower(m.get("Content-Type")), "interscan") {
		return nil
	}
	var fs []finding
	for _, l := range textLines(m.text) {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "Sent <<<") && strings.Contains(strings.ToUpper(t), "RCPT TO"):
			fs = append(fs, finding{recipient: firstAddrIn(t), action: "failed"})
		case strings.HasPrefix(t, "Received >>>") && len(fs) > 0:
			fs[len(fs)-1].diagnostic = strings.TrimSpace(t[len("Received >>>"):])
		case strings.HasPrefix(t, "Reason:"):
			if a := firstAddrIn(t); a != "" {
				fs = append(fs, finding{recipient: a, action: "failed", diagnostic: strings.TrimSpace(t[len("Reason:"):])})
			}
		}
	}
	var out []finding
	for _, f := range fs {
		if f.recipient != "" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return decideAll("trendmicro", out)
}
