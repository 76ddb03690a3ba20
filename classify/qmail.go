package classify

import (
	"strings"
)

// The qmail decoder reads the bounce of qmail-send ("Hi. This is the
// qmail-send program at ...") and of the MTAs derived from it (netqmail,
// the Yahoo! Japan and hosting-provider variants that keep its layout but
// change the greeting): each failed address opens a paragraph as
// "<user@example.org>:", and the paragraph says what qmail-remote or
// qmail-local reported, ending with qmail's own status in "(#5.1.1)" form.
func init() {
	register(decoder{name: "qmail", order: orderMTA, decode: decodeQmail})
}

var (
	qmailStart = markers(
		"this is the qmail-send program",
		"i'm afraid i wasn't able to deliver your message to the following addresses.",
		"unable to deliver message to the following address(es).",
		"your mail message to the following address(es) could not be delivered.",
	)
	qmailEnd = markers(
		"--- below this line is a copy of the message.",
		"--- enclosed is a copy of the message.",
		"--- original message follows.",
		"--- below this line is the original message",
	)
	// qmail's closing lines, which say that it gave up, not why.
	qmailGaveUp = markers(
		"i'm not going to try again; this message has been in the queue too long.",
		"giving up on ",
	)
	qmailQueueLifetime = markers("this message has been in the queue too long")
	qmailRemoteSaid    = markers("remote host said:")
	qmailStatusRe      = mustFastRe(`[(\[]#([45]\.\d{1,3}\.\d{1,3})[)\]]`)
)

func decodeQmail(m *message) []Verdict {
	section, ok := m.textAfter(qmailStart)
	if !ok {
		if section, ok = qmailLayout(m); !ok {
			return nil
		}
	}
	section = cutAtRe(section, qmailEnd)
	senders := senderAddresses(m, section)
	var out []Verdict
	for _, b := range qmailBlocks(section) {
		f := qmailFinding(b.addr, b.text)
		v := decideStaged("qmail", f, stageOf(b.text), senders)
		if v.Class == Soft && qmailQueueLifetime.MatchString(b.text) {
			// qmail retried a recipient-side failure until its queue
			// lifetime ran out: the message expired; the last error is
			// only what it met on the final try.
			f.reason, f.rule = Expired, "qmail-queue-lifetime"
			v = decide("qmail", f)
		}
		out = append(out, v)
	}
	return out
}

// qmailLayout finds, in a bounce without qmail's greeting, qmail's layout:
// paragraphs opened by "<user@example.org>:" at the left margin, as the
// mail systems that imitate qmail write them (with the greeting
// translated or left out). It returns the text from the first such line
// up to the ruler that opens the returned message.
func qmailLayout(m *message) (string, bool) {
	if !m.containsLower(">:") {
		return "", false
	}
	loc := qmailAddrLineRe.FindStringIndex(m.text)
	if loc == nil || !fbLooksLikeBounce(m) {
		return "", false
	}
	section := m.text[loc[0]:]
	if i := strings.Index(section, "\n---"); i >= 0 {
		section = section[:i]
	}
	return section, true
}

type qmailBlock struct {
	addr, text string
}

// qmailBlocks splits the report into paragraphs, each opened by a line
// "<address>:" at the left margin.
func qmailBlocks(section string) []qmailBlock {
	var out []qmailBlock
	// The lines of the last block, joined once it ends: appending each to
	// its text would copy the text once per line.
	var lines []string
	end := func() {
		if len(out) > 0 && len(lines) > 1 {
			out[len(out)-1].text = strings.Join(lines, "\n")
		}
	}
	for _, line := range textLines(section) {
		if m := qmailAddrLineRe.FindStringSubmatch(line); m != nil {
			if addr := cleanAddress(m[1]); addr != "" {
				end()
				out = append(out, qmailBlock{addr: addr, text: m[2]})
				lines = append(lines[:0], m[2])
				continue
			}
		}
		if len(out) > 0 {
			lines = append(lines, line)
		}
	}
	end()
	return out
}

var qmailAddrLineRe = mustFastRe(`(?m)^<([^<>\s]+@[^<>\s]+)>:[ \t]*(.*)$`)

// qmailFinding reads one paragraph: the remote server's reply if it
// quotes one, qmail's own sentence and "(#x.y.z)" status otherwise.
func qmailFinding(addr, text string) finding {
	f := finding{recipient: addr, action: "failed"}
	if m := qmailStatusRe.FindStringSubmatch(text); m != nil {
		f.status = m[1]
	}
	if reply, ok := afterRe(text, qmailRemoteSaid); ok {
		f.diagnostic = strings.Join(strings.Fields(cutAtRe(reply, qmailGaveUp)), " ")
		f.remoteMTA = qmailRemoteHost(text)
	} else {
		f.diagnostic = strings.Join(strings.Fields(cutAtRe(text, qmailGaveUp)), " ")
		// qmail's own words end at the "(#x.y.z)" status.
		if loc := qmailStatusRe.FindStringIndex(f.diagnostic); loc != nil {
			f.diagnostic = f.diagnostic[:loc[1]]
		}
	}
	if f.diagnostic == "" && qmailGaveUp.MatchString(text) {
		f.reason, f.rule = Expired, "qmail-queue-lifetime"
	}
	return f
}

var qmailHostRe = mustFastRe(`(?i)(?:^|\s)(?:connected to )?([0-9a-f.:]+[0-9a-f]|[a-z0-9.\-]+\.[a-z]{2,}) (?:does not like recipient|failed after i sent the message|but sender was rejected|but greeting failed|but my name was rejected)`)

func qmailRemoteHost(text string) string {
	if m := qmailHostRe.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}
