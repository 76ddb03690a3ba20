package classify

import (
	"strings"
)

// Yahoo's plain-text bounces (MAILER-DAEMON@yahoo.com, yahoo.co.jp and the
// sites Yahoo hosts), a descendant of qmail's format:
//
//	Sorry, we were unable to deliver your message to the following address.
//
//	<user@example.org>:
//	Remote host said: 550 5.1.1 <user@example.org>... User Unknown [RCPT_TO]
//
//	--- Below this line is a copy of the message.
//
// The bracketed tag names the SMTP command the remote host refused.
func init() {
	register(decoder{name: "yahoo", order: orderProvider, decode: decodeYahoo})
	registerRhost(rhost{name: "yahoo", matches: isYahooHost, phrases: yahooPhrases})
}

// yahooPhrases are the replies of Yahoo's and AOL's inbound servers.
var yahooPhrases = []phrase{
	providerPhrase("no-account", UserUnknown, `user doesn'?t have an? [a-z0-9.\-]+ account`),
}

func isYahooHost(f finding) bool {
	return hostIn(f.remoteMTA, "yahoodns.net", "yahoo.com", "aol.com") ||
		hostIn(recipientDomain(f), "yahoo.com", "yahoo.co.uk", "ymail.com", "aol.com", "rocketmail.com")
}

const yahooIntro = "sorry, we were unable to deliver your message to the following address"

func decodeYahoo(m *message) []Verdict {
	if !m.containsLower(yahooIntro) {
		return nil
	}
	lines := textLines(cutAt(m.text, "--- Below this line is a copy of the message"))
	start := indexLine(lines, 0, yahooIntro)
	if start < 0 {
		return nil
	}
	var fs []finding
	var diag []string // the last recipient's lines, joined once they end
	end := func() {
		if len(fs) > 0 {
			fs[len(fs)-1].diagnostic = strings.Join(diag, " ")
		}
		diag = diag[:0]
	}
	for _, l := range lines[start+1:] {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">:") {
			end()
			fs = append(fs, finding{recipient: t, action: "failed"})
			continue
		}
		if len(fs) == 0 {
			continue
		}
		diag = append(diag, t)
	}
	end()
	var out []Verdict
	for _, f := range fs {
		f.recipient = strings.TrimSuffix(f.recipient, ":")
		d := strings.TrimSpace(strings.TrimPrefix(f.diagnostic, "Remote host said:"))
		if i := strings.LastIndex(d, "["); i > 0 && strings.HasSuffix(d, "]") {
			// [RCPT_TO], [MAIL_FROM], [DATA]: the stage, not the reply.
			d = strings.TrimSpace(d[:i])
		}
		f.diagnostic = d
		out = append(out, decide("yahoo", f))
	}
	return out
}
