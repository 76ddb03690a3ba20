package classify

import (
	"strings"
)

// The James decoder reads the bounces of Apache James (its Bounce and
// NotifySender mailets, AbstractNotify): the error under "Error message
// below:", then a summary of the message whose "RCPT TO:" names the
// failed recipients (some versions list them under "Failed
// recipient(s):" instead):
//
//	Error message below:
//	550 - Requested action not taken: no such user here
//
//	Message details:
//	  Subject: Hello
//	  Sent date: Thu Apr 29 01:20:50 CEST 2015
//	  MAIL FROM: sender@example.org
//	  RCPT TO: user@example.net
//	  From: Sender <sender@example.org>
//	  To: user@example.net
//	  Size (in bytes): 1024
//	  Number of lines: 64
//
// The MAIL FROM of the summary is the sender, never a failed recipient.
func init() {
	register(decoder{name: "james", order: orderMTA, decode: decodeJames})
}

var (
	jamesDetails = markers("message details:")
	jamesError   = markers("error message below:", "error message:")
	jamesFailed  = markers("failed recipient(s):")
	// jamesFieldRe is a line of the summary: "  RCPT TO: a@b".
	jamesFieldRe = mustFastRe(`(?i)^\s+(rcpt to|mail from|subject|sent date|from|to|cc|size \(in bytes\)|number of lines):\s*(.*)$`)
)

func decodeJames(m *message) []Verdict {
	if !m.mayContain(jamesDetails) && !m.mayContain(jamesFailed) {
		return nil
	}
	if !isJames(m) {
		return nil
	}
	diag := ""
	if e, ok := m.textAfter(jamesError); ok {
		diag = joinReply(textLines(firstParagraph(cutAtRe(e, jamesDetails))))
	}
	var rcpts []string
	sender := ""
	if d, ok := m.textAfter(jamesDetails); ok {
		field := ""
		for _, line := range textLines(d) {
			if strings.TrimSpace(line) == "" {
				if field != "" {
					break
				}
				continue
			}
			mm := jamesFieldRe.FindStringSubmatch(line)
			if mm == nil {
				if field == "rcpt to" && indentOf(line) > 0 {
					rcpts = append(rcpts, addressesIn(line)...) // more recipients, one a line
					continue
				}
				break
			}
			field = strings.ToLower(mm[1])
			switch field {
			case "rcpt to":
				rcpts = append(rcpts, addressesIn(mm[2])...)
			case "mail from":
				sender = cleanAddress(mm[2])
			}
		}
	}
	if len(rcpts) == 0 {
		if l, ok := m.textAfter(jamesFailed); ok {
			for _, line := range textLines(strings.TrimLeft(l, "\r\n")) {
				a, _, ok := leadingAddress(line)
				if !ok {
					break
				}
				rcpts = append(rcpts, a)
			}
		}
	}
	senders := senderAddresses(m, "")
	if sender != "" {
		senders = append(senders, sender)
	}
	var out []Verdict
	for _, a := range rcpts {
		if a == sender || len(out) >= 32 {
			continue
		}
		f := finding{recipient: a, action: "failed", diagnostic: diag, remoteMTA: remoteHostIn(diag)}
		out = append(out, decideStaged("james", f, stageOf(diag), senders))
	}
	return out
}

// isJames reports whether a message is a bounce of James: its "[BOUNCE]"
// subject, a JavaMail Message-ID, a James Received line, or the text of
// its notice.
func isJames(m *message) bool {
	if strings.EqualFold(strings.TrimSpace(m.get("Subject")), "[bounce]") ||
		strings.Contains(m.get("Message-Id"), ".JavaMail.") {
		return true
	}
	for _, r := range m.header.Values("Received") {
		if strings.Contains(r, "JAMES SMTP Server") {
			return true
		}
	}
	return m.mayContain(jamesError) && m.textMatches(jamesError) && m.textMatches(jamesDetails)
}
