package classify

import (
	"strings"
)

// Active!Hunter (a Japanese mail gateway) writes a sendmail-like notice in
// a multipart/report without a delivery-status part:
//
//	  ----- The following addresses had permanent fatal errors -----
//	>>> user@example.org <user@example.org>
//	  ----- Transcript of session follows -----
//	550 sorry, no mailbox here by that name (#5.1.1 - chkusr)
func init() {
	register(decoder{name: "activehunter", order: orderMTA - 1, decode: decodeActiveHunter})
}

func decodeActiveHunter(m *message) []Verdict {
	if !strings.Contains(m.params["boundary"], "Active!Hunter") {
		return nil
	}
	lines := textLines(m.text)
	head := indexLine(lines, 0, "the following addresses had permanent fatal errors")
	if head < 0 {
		return nil
	}
	var recips []string
	i := head + 1
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if strings.HasPrefix(t, "-----") {
			break
		}
		if a := firstAddrIn(t); a != "" {
			recips = append(recips, a)
		}
	}
	var diag []string
	if i < len(lines) && strings.Contains(strings.ToLower(lines[i]), "transcript") {
		for _, l := range lines[i+1:] {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "-----") {
				break
			}
			diag = append(diag, t)
		}
	}
	var fs []finding
	joined := strings.Join(diag, " ")
	for _, a := range recips {
		if len(fs) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		fs = append(fs, finding{recipient: a, action: "failed", diagnostic: joined})
	}
	if len(fs) == 0 {
		return nil
	}
	return decideAll("activehunter", fs)
}
