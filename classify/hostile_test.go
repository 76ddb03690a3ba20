package classify

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// Hostile inputs: messages built so that a classifier whose cost grows
// faster than its input spends minutes on one of them. Each shape makes a
// message of about the size asked for; the cost test and benchmark
// (cost_test.go) feed them at several sizes.
type hostileShape struct {
	name string
	gen  func(size int) []byte
}

var hostileShapes = []hostileShape{
	// Exchange 2003's report with a diagnostic of "MSEXCH:" repeated on
	// one line (base64 makes it one line whatever the line limit): a
	// search anchored at each occurrence scans to the end of the line.
	{"exchange-msexch-base64", func(size int) []byte {
		return exchange2003Bounce(base64Body, "    The recipient name is not recognized\r\n    "+fill("MSEXCH:", size*3/4)+"\r\n")
	}},
	// The same, quoted-printable with soft line breaks.
	{"exchange-msexch-qp", func(size int) []byte {
		return exchange2003Bounce(qpBody, "    The recipient name is not recognized\r\n    "+fill("MSEXCH:", size*24/25)+"\r\n")
	}},
	// Exchange 2003's report whose diagnostic is many short indented
	// lines, each one appended to the diagnostic.
	{"exchange-many-lines", func(size int) []byte {
		return exchange2003Bounce(plainBody, fill("    x\r\n", size))
	}},
	// The x6 format's sentence repeated on one line after its trigger.
	{"x6-repeated", func(size int) []byte {
		return textBounce("Undeliverable", "We had trouble delivering your message. Full details follow:\r\n\r\n"+
			fill("The following recipients returned permanent errors: ", size)+"\r\n")
	}},
	// Exchange 2007's administrators' part with one recipient and many
	// diagnostic lines, each once appended to the diagnostic.
	{"exchange-ndr-many-lines", func(size int) []byte {
		return textBounce("Undeliverable: news", "Delivery has failed to these recipients or groups:\r\n\r\nuser@example.org\r\n\r\n"+
			"Diagnostic information for administrators:\r\n\r\nGenerating server: mx.example.org\r\n\r\nuser@example.org\r\n"+fill("#550 x\r\n", size))
	}},
	// A DSN whose Diagnostic-Code is folded over many lines, each once
	// appended to the field's value.
	{"dsn-folded-diagnostic", func(size int) []byte {
		return dsnBounce("The mail system could not deliver your message.\r\n",
			"Final-Recipient: rfc822; user@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"+fill(" x\r\n", size))
	}},
	// A DSN naming many recipients beside a long text, each once looked
	// for in the whole text.
	{"dsn-many-recipients", func(size int) []byte {
		return dsnBounce(fill("The mail system could not deliver your message to a recipient.\r\n", size/2),
			"Reporting-MTA: dns; mx.example.org\r\n\r\n"+numbered("Final-Recipient: rfc822; u%d@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n", size/2))
	}},
	// A DSN of many recipients delivered to a program, each once made to
	// look for the address it was expanded from in the whole text.
	{"dsn-program-recipients", func(size int) []byte {
		return dsnBounce(fill("The mail system could not deliver your message to a recipient.\r\n", size/2),
			"Reporting-MTA: dns; mx.example.org\r\n\r\n"+numbered("Final-Recipient: rfc822; u%d@example.org\r\nX-Actual-Recipient: |/bin/prog\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n", size/2))
	}},
	// A header the strict parser refuses, read by the lenient one: one
	// field folded over many lines.
	{"loose-header-folded", func(size int) []byte {
		return []byte("Subject: Undeliverable\r\n" + fill(" x\r\n", size/8) + "not a field\r\n\r\n" + fill("body\r\n", size*7/8))
	}},
	// An Exim bounce whose list does not read, with many addresses in
	// X-Failed-Recipients fields, each given the section's first paragraph.
	{"exim-failed-recipients", func(size int) []byte {
		return headerBounce("Mail delivery failed: returning message to sender", numbered("X-Failed-Recipients: u%d@example.org\r\n", size/8)+"X-Failed-Recipients: x@example.org",
			"This message was created automatically by mail delivery software.\r\n\r\nA message that you sent could not be delivered to one or more of its\r\n"+
				"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"+fill("error ", size*7/8)+"\r\n")
	}},
	// A bounce the fallback reads, with many addresses in
	// X-Failed-Recipients, each once looked for in the whole text.
	{"fallback-failed-recipients", func(size int) []byte {
		return headerBounce("Undeliverable", numbered("X-Failed-Recipients: u%d@example.org\r\n", size/8)+"X-Failed-Recipients: x@example.org",
			"Your message could not be delivered.\r\n"+fill("error ", size*7/8)+"\r\n")
	}},
	// Reports that list many recipients under one explanation.
	{"gmail-shared-details", func(size int) []byte {
		return fromBounce("mailer-daemon@googlemail.com", "Delivery Status Notification (Failure)", "Delivery to the following recipient failed permanently:\r\n\r\n"+
			numbered("     u%d@example.org\r\n", size/2)+"\r\nTechnical details of permanent failure:\r\n"+fill("550 5.1.1 user unknown ", size/2)+"\r\n")
	}},
	{"x3-shared-details", func(size int) []byte {
		return textBounce("Delivery Status Notification", "This is an automatically generated Delivery Status Notification.\r\n\r\n"+
			"Delivery to the following recipients failed permanently:\r\n\r\n"+numbered("   * u%d@example.org\r\n", size/2)+
			"\r\nTechnical details:\r\n"+fill("550 5.1.1 user unknown ", size/2)+"\r\n")
	}},
	{"domino-shared-reason", func(size int) []byte {
		return textBounce("DELIVERY FAILURE", "Your message\r\n\r\n  Subject: news\r\n\r\nwas not delivered to:\r\n\r\n"+
			numbered("  u%d@example.org\r\n", size/2)+"\r\nbecause:\r\n\r\n"+fill("User u0 not listed in Domino Directory ", size/2)+"\r\n")
	}},
	{"mfilter-shared-message", func(size int) []byte {
		return textBounce("failure notice", numbered("u%d@example.org\r\n", size/2)+"-------server message\r\n"+fill("550 5.1.1 user unknown ", size/2)+
			"\r\n-------SMTP command\r\nRCPT TO\r\n")
	}},
	{"kddi-isp-lines", func(size int) []byte {
		return fromBounce("postmaster@ezweb.ne.jp", "Mail System Error - Returned Mail", numbered("Could not be delivered to: <u%d@ezweb.ne.jp>\r\n", size))
	}},
	// A qmail paragraph of many lines, each once appended to its text.
	{"qmail-long-paragraph", func(size int) []byte {
		return textBounce("failure notice", "Hi. This is the qmail-send program at mx.example.org.\r\n"+
			"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n<user@example.org>:\r\n"+fill("x\r\n", size))
	}},
	// The x6 sentence repeated in four text parts: the most text the
	// classifier reads of one message (maxTotalReadText).
	{"x6-four-parts", func(size int) []byte {
		text := "We had trouble delivering your message. Full details follow:\r\n\r\n" + fill("The following recipients returned permanent errors: ", size/4) + "\r\n"
		return multipartText(text, 4)
	}},
	// Every literal the patterns are prefiltered by, over and over: no
	// prefilter rules a pattern out, so every one runs on the whole text.
	{"literal-soup", func(size int) []byte {
		return textBounce("Undeliverable: news", fill(literalSoup(), size))
	}},
	// Multipart bodies nested as deep as the size allows.
	{"nested-multipart", func(size int) []byte { return nestedMultipart(size, "") }},
	// The same with an innermost boundary longer than the walker reads
	// itself, which once sent the whole message to go-message.
	{"nested-long-boundary", func(size int) []byte { return nestedMultipart(size, strings.Repeat("L", 1200)) }},
}

// numbered repeats format, which takes a number, to about size bytes.
func numbered(format string, size int) string {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// multipartText is a multipart/mixed message of n text/plain parts, each
// holding text.
func multipartText(text string, n int) []byte {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@example.com\r\nSubject: Undeliverable\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"P\"\r\n\r\n")
	for range n {
		b.WriteString("--P\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n")
	}
	b.WriteString("--P--\r\n")
	return []byte(b.String())
}

// dsnBounce is a multipart/report with text and a delivery-status part.
func dsnBounce(text, status string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n" +
		"--R\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\n" + status + "\r\n--R--\r\n")
}

// headerBounce is a plain-text bounce with one more header field.
func headerBounce(subject, field, text string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@example.com\r\nSubject: " + subject + "\r\n" + field + "\r\n\r\n" + text)
}

// fromBounce is a plain-text bounce from the given address.
func fromBounce(from, subject, text string) []byte {
	return []byte("From: " + from + "\r\nTo: bounces@example.com\r\nSubject: " + subject + "\r\n\r\n" + text)
}

// literalSoup is a line holding a literal of every pattern and of each
// of its alternatives.
func literalSoup() string {
	var b strings.Builder
	for _, f := range fastRes {
		if len(f.lits) > 0 {
			b.WriteString(f.lits[0] + " ")
		}
		if f.alts != nil {
			for _, a := range f.alts.alts {
				if len(a.lits) > 0 {
					b.WriteString(f.alts.scan.strs[a.lits[0]] + " ")
				}
			}
		}
	}
	return b.String() + "\r\n"
}

// fill repeats unit to about size bytes.
func fill(unit string, size int) string {
	return strings.Repeat(unit, max(1, size/len(unit)))
}

type bodyEncoding int

const (
	plainBody bodyEncoding = iota
	base64Body
	qpBody
)

// exchange2003Bounce is an Exchange 2000/2003 report for one recipient
// whose diagnostic lines are diag, its text encoded as enc says.
func exchange2003Bounce(enc bodyEncoding, diag string) []byte {
	text := "Your message\r\n\r\n  To:      user@example.org\r\n  Subject: news\r\n  Sent:    Thu, 29 Apr 2010 00:00:00 -0000\r\n\r\n" +
		"did not reach the following recipient(s):\r\n\r\nuser@example.org on Thu, 29 Apr 2010 00:00:00 -0000\r\n" + diag
	return textBounceEncoded("Undeliverable: news", text, enc)
}

// textBounce is a single-part plain-text bounce from a mailer daemon.
func textBounce(subject, text string) []byte {
	return textBounceEncoded(subject, text, plainBody)
}

func textBounceEncoded(subject, text string, enc bodyEncoding) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: postmaster@mx.example.org\r\nTo: bounces@example.com\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n", subject)
	switch enc {
	case base64Body:
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString([]byte(text))
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	case qpBody:
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		for _, line := range strings.SplitAfter(text, "\r\n") {
			line = strings.TrimSuffix(line, "\r\n")
			for len(line) > 75 {
				b.WriteString(line[:75] + "=\r\n")
				line = line[75:]
			}
			b.WriteString(line + "\r\n")
		}
	default:
		b.WriteString("\r\n" + text)
	}
	return b.Bytes()
}

// nestedMultipart nests multipart/mixed bodies about size bytes deep in
// all, the innermost one with the given boundary (or a short one) and a
// bounce's text inside.
func nestedMultipart(size int, innermost string) []byte {
	const level = "Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\n"
	per := len(fmt.Sprintf(level, "b00000", "b00000")) + len("\r\n--b00000--\r\n")
	depth := max(1, size/per)
	var b bytes.Buffer
	b.WriteString("From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < depth; i++ {
		bd := fmt.Sprintf("b%05d", i%100000)
		if i == depth-1 && innermost != "" {
			bd = innermost
		}
		fmt.Fprintf(&b, level, bd, bd)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n<user@example.org>: host mx.example.org said: 550 5.1.1 user unknown (in reply to RCPT TO command)\r\n")
	for i := depth - 1; i >= 0; i-- {
		bd := fmt.Sprintf("b%05d", i%100000)
		if i == depth-1 && innermost != "" {
			bd = innermost
		}
		fmt.Fprintf(&b, "--%s--\r\n", bd)
	}
	return b.Bytes()
}
