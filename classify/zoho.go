package classify

import (
	"strings"
)

// Zoho Mail's bounces list one failed recipient per line, "user@example.org
// Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <reply>", and its
// delay warnings ("THIS IS A WARNING MESSAGE ONLY") one per bracket,
// "[Status: Error, Address: <user@example.org>, ResponseCode 421, , Host
// not reachable.]".
func init() {
	register(decoder{name: "zoho", order: orderMTA, decode: decodeZoho})
}

var (
	zohoWarning = markers("this is a warning message only")
	zohoEnd     = markers("received:from", "received: from", "----- transcript of session follows -----")
	zohoDelayRe = mustFastRe(`(?i)\[Status: ([^,\]]*), Address: <([^<>\s]+)>, ResponseCode (\d{3})?,([^\]]*)\]`)
)

func decodeZoho(m *message) []Verdict {
	if !strings.Contains(strings.ToLower(m.get("X-Mailer")), "zoho mail") &&
		!strings.Contains(strings.ToLower(m.get("From")), "zoho.com") {
		return nil
	}
	text := m.textBefore(zohoEnd)
	senders := senderAddresses(m, "")
	var out []Verdict
	if zohoWarning.MatchString(text) {
		for _, mm := range zohoDelayRe.FindAllStringSubmatch(text, 32) {
			diag := strings.TrimSpace(mm[3] + " " + strings.Trim(mm[4], " ,"))
			f := finding{recipient: mm[2], action: "delayed", diagnostic: diag, temporary: true}
			out = append(out, decideStaged("zoho", f, stageUnknown, senders))
		}
		return out
	}
	for _, line := range joinEntries(textLines(text)) {
		i := strings.Index(line, "ERROR_CODE")
		if i < 0 {
			continue
		}
		addr, _, ok := leadingAddress(line[:i])
		if !ok {
			continue
		}
		// "Invalid Address" heads every line whatever the reply says; the
		// reply is what follows the codes.
		diag := strings.ReplaceAll(line[i:], "ERROR_CODE :", "")
		diag = strings.Join(strings.Fields(strings.ReplaceAll(diag, ",", " ")), " ")
		f := finding{recipient: addr, action: "failed", diagnostic: diag}
		out = append(out, decideStaged("zoho", f, stageOf(diag), senders))
	}
	return out
}
