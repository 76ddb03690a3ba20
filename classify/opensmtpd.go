package classify

import (
	"strings"
)

// OpenSMTPD bounces (smtpd/bounce.c) open with "This is the MAILER-DAEMON,
// please DO NOT REPLY to this e-mail." and list one recipient per line,
// "user@example.org: 550 5.1.1 ...", under a sentence that says whether
// delivery failed, is delayed or succeeded.
func init() {
	register(decoder{name: "opensmtpd", order: orderMTA, decode: decodeOpenSMTPD})
}

var (
	osmtpdSignature = markers("this is the mailer-daemon, please do not reply to this e-mail",
		"this is the mailer-daemon, please do not reply to this email")
	osmtpdError   = markers("an error has occurred while attempting to deliver a message for the following list of recipients:")
	osmtpdDelay   = markers("a message is delayed for more than")
	osmtpdSuccess = markers("your message was successfully delivered to these recipients")
	osmtpdEnd     = markers("below is a copy of the original message", "please note that this is only a temporary failure report")
)

// osmtpdErrors are OpenSMTPD's own texts for failures that no remote server
// answered (smtpd/mta.c, smtpd/queue.c).
var osmtpdErrors = []struct {
	text   string
	reason Reason
}{
	{"Domain does not exist", DomainUnknown},
	{"No MX found for domain", DomainUnknown},
	{"Envelope expired", Expired},
	{"Loop detected", NetworkError},
	{"Network error on destination MXs", NetworkError},
	{"Invalid recipient", UserUnknown},
}

func decodeOpenSMTPD(m *message) []Verdict {
	if !m.textMatches(osmtpdSignature) {
		return nil
	}
	action := "failed"
	section, ok := m.textAfter(osmtpdError)
	if !ok {
		if section, ok = m.textAfter(osmtpdDelay); ok {
			action = "delayed"
		} else if section, ok = m.textAfter(osmtpdSuccess); ok {
			action = "delivered"
		} else {
			return nil
		}
	}
	section = cutAtRe(section, osmtpdEnd)
	senders := senderAddresses(m, section)
	var out []Verdict
	for _, line := range joinEntries(textLines(section)) {
		if indentOf(line) > 0 {
			continue // the wrapped lines of the sentence above the list
		}
		addr, rest, ok := leadingAddress(line)
		if !ok {
			continue
		}
		f := finding{recipient: addr, action: action, diagnostic: strings.TrimSpace(rest)}
		if replyCodeInText(rest) == 0 {
			for _, e := range osmtpdErrors {
				if strings.EqualFold(strings.TrimRight(f.diagnostic, ". "), e.text) {
					f.reason, f.rule = e.reason, "opensmtpd-"+strings.ToLower(strings.ReplaceAll(e.text, " ", "-"))
				}
			}
		}
		out = append(out, decideStaged("opensmtpd", f, stageOf(rest), senders))
	}
	return out
}
