// Package bouncegen writes real-looking bounces for load and crash tests:
// Postfix and Exim delivery failures (hard, soft, block), ARF complaints
// and out-of-office replies, each naming one given recipient and addressed
// to that recipient's VERP return path. It is test tooling: nothing in the
// server imports it.
package bouncegen

import (
	"fmt"
	"strings"
	"time"
)

// Kind is one format of generated message.
type Kind int

const (
	Hard      Kind = iota // Postfix RFC 3464 DSN, 550 5.1.1 user unknown
	HardExim              // Exim plain-text failure, 550 5.1.1
	Soft                  // Postfix DSN, 552 5.2.2 mailbox full
	Block                 // Postfix DSN, 550 5.7.1 sending IP on a blocklist
	Complaint             // ARF (RFC 5965) abuse report
	AutoReply             // RFC 3834 out-of-office reply
	numKinds
)

// Kinds lists every kind, in order.
var Kinds = []Kind{Hard, HardExim, Soft, Block, Complaint, AutoReply}

var kindNames = [...]string{"hard", "hard-exim", "soft", "block", "complaint", "autoreply"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Class is the verdict class the classifier is expected to give k.
func (k Kind) Class() string {
	switch k {
	case Hard, HardExim:
		return "hard"
	case Soft:
		return "soft"
	case Block:
		return "block"
	case Complaint:
		return "complaint"
	case AutoReply:
		return "autoreply"
	}
	return ""
}

// mix weighs the kinds roughly as a bulk sender sees them: mostly hard
// bounces, some full mailboxes, blocks and auto-replies, few complaints.
var mix = []Kind{Hard, Hard, Hard, HardExim, HardExim, Soft, Soft, Block, AutoReply, AutoReply, AutoReply, Complaint}

// Mixed returns the kind of the i-th message of a realistic mix.
func Mixed(i int) Kind { return mix[i%len(mix)] }

// VERP returns the return path that names rcpt at domain, in the
// local+LOCAL=DOMAIN@domain form bouncesink decodes with separator "+".
func VERP(rcpt, domain string) string {
	return "bounces+" + strings.Replace(rcpt, "@", "=", 1) + "@" + domain
}

// Message returns a message of kind k reporting on rcpt, sent back to
// returnPath (normally VERP(rcpt, ...)). id makes Message-Ids and queue
// ids unique; at dates the message. Lines end in CRLF.
func Message(k Kind, rcpt, returnPath string, id int, at time.Time) []byte {
	local, domain, _ := strings.Cut(rcpt, "@")
	p := params{
		Rcpt: rcpt, Local: local, Domain: domain, ReturnPath: returnPath,
		ID: fmt.Sprintf("%08X", uint32(id)*2654435761), Date: at.UTC().Format(time.RFC1123Z),
		Arrival: at.Add(-2 * time.Second).UTC().Format(time.RFC1123Z),
		Sent:    at.Add(-time.Minute).UTC().Format(time.RFC1123Z),
	}
	var b strings.Builder
	b.Grow(4096)
	switch k {
	case Hard:
		p.dsn(&b, "550 5.1.1", "5.1.1", "<"+rcpt+">: Recipient address rejected: User unknown in virtual mailbox table")
	case Soft:
		p.dsn(&b, "552 5.2.2", "5.2.2", "Mailbox full: user is over quota")
	case Block:
		p.dsn(&b, "550 5.7.1", "5.7.1", "Service unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.25")
	case HardExim:
		p.exim(&b)
	case Complaint:
		p.arf(&b)
	case AutoReply:
		p.autoreply(&b)
	default:
		panic("bouncegen: unknown kind")
	}
	return []byte(strings.ReplaceAll(b.String(), "\n", "\r\n"))
}

type params struct {
	Rcpt, Local, Domain, ReturnPath string
	ID, Date, Arrival, Sent         string
}

// newsletter is the body of the original message that some bounces quote.
const newsletter = `Hello,

Here is what happened this month at Example News. We shipped the new
dashboard, which shows delivery and bounce figures per campaign and per
domain, and we rewrote the import so that lists of a million addresses load
in under a minute. Thank you to everyone who sent feedback on the beta.

Coming up: an API for transactional mail, better templates for mobile
screens, and a status page that says plainly what is broken and when it
will be fixed. As always, reply to this message if something does not work.

You receive this newsletter because you subscribed at example.com. To stop
receiving it, follow https://news.example.com/unsubscribe?u=%s
`

func (p params) originalHeaders(b *strings.Builder) {
	fmt.Fprintf(b, `Return-Path: <%s>
Received: from app.news.example.com (app.news.example.com [192.0.2.25])
	by mta.news.example.com (Postfix) with ESMTP id %s
	for <%s>; %s
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=news.example.com;
	s=2025; h=from:to:subject:date:message-id:list-unsubscribe;
	bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgYXMgbG9uZyBhcyBvbmUgd291bGQgYmU=
From: Example News <news@news.example.com>
To: %s
Subject: Our monthly newsletter
List-Unsubscribe: <https://news.example.com/unsubscribe?u=%s>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Message-Id: <newsletter.%s@news.example.com>
Date: %s
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`, p.ReturnPath, p.ID, p.Rcpt, p.Arrival, p.Rcpt, p.ID, p.ID, p.Sent)
}

// dsn writes a Postfix multipart/report delivery status notification
// (RFC 3464) for a failure at RCPT TO.
func (p params) dsn(b *strings.Builder, reply, status, text string) {
	bound := p.ID + ".1741000447/mta.news.example.com"
	fmt.Fprintf(b, `Return-Path: <>
Received: by mta.news.example.com (Postfix)
	id %s; %s
Date: %s
From: MAILER-DAEMON@mta.news.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: %s
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="%s"
Content-Transfer-Encoding: 7bit
Message-Id: <%s.%s@mta.news.example.com>

This is a MIME-encapsulated message.

--%s
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mta.news.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<%s>: host mx1.%s[198.51.100.20] said: %s %s (in reply to RCPT TO command)

--%s
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.news.example.com
X-Postfix-Queue-ID: %s
X-Postfix-Sender: rfc822; %s
Arrival-Date: %s

Final-Recipient: rfc822; %s
Original-Recipient: rfc822;%s
Action: failed
Status: %s
Remote-MTA: dns; mx1.%s
Diagnostic-Code: smtp; %s %s

--%s
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 7bit

`, p.ID, p.Date, p.Date, p.ReturnPath, bound, p.ID, "bounce", bound,
		p.Rcpt, p.Domain, reply, text, bound,
		p.ID, p.ReturnPath, p.Arrival,
		p.Rcpt, p.Rcpt, status, p.Domain, reply, text, bound)
	p.originalHeaders(b)
	fmt.Fprintf(b, "\n--%s--\n", bound)
}

// exim writes Exim's plain-text failure report with the whole message.
func (p params) exim(b *strings.Builder) {
	fmt.Fprintf(b, `Return-path: <>
Received: from Debian-exim by mx.relay.example.net with local (Exim 4.96)
	id 1t%s-000Abc-2x; %s
From: Mail Delivery System <Mailer-Daemon@mx.relay.example.net>
To: %s
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1t%s-000Abc-2x@mx.relay.example.net>
X-Failed-Recipients: %s
Auto-Submitted: auto-replied
Date: %s

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  %s
    host mx1.%s [198.51.100.21]
    SMTP error from remote mail server after RCPT TO:<%s>:
    550 5.1.1 <%s>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

`, p.ID, p.Date, p.ReturnPath, p.ID, p.Rcpt, p.Date, p.Rcpt, p.Domain, p.Rcpt, p.Rcpt)
	p.originalHeaders(b)
	b.WriteString("\n")
	fmt.Fprintf(b, newsletter, p.ID)
}

// arf writes an abuse feedback report (RFC 5965) quoting the message.
func (p params) arf(b *strings.Builder) {
	fmt.Fprintf(b, `Return-Path: <fbl@fbl.%s>
From: Feedback Loop <fbl@fbl.%s>
To: %s
Subject: Email Feedback Report
Date: %s
Message-Id: <fbl.%s@fbl.%s>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="ARF%s"

--ARF%s
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for a message received from IP 192.0.2.25
on %s. A recipient marked it as spam.

--ARF%s
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <%s>
Original-Rcpt-To: <%s>
Source-IP: 192.0.2.25
Arrival-Date: %s
Reported-Domain: news.example.com

--ARF%s
Content-Type: message/rfc822

`, p.Domain, p.Domain, p.ReturnPath, p.Date, p.ID, p.Domain, p.ID, p.ID, p.Arrival, p.ID,
		p.ReturnPath, p.Rcpt, p.Arrival, p.ID)
	p.originalHeaders(b)
	b.WriteString("\n")
	fmt.Fprintf(b, newsletter, p.ID)
	fmt.Fprintf(b, "--ARF%s--\n", p.ID)
}

// autoreply writes an out-of-office reply (RFC 3834) from the recipient.
func (p params) autoreply(b *strings.Builder) {
	fmt.Fprintf(b, `Return-Path: <%s>
Received: from mail.%s (mail.%s [198.51.100.44])
	by mx.news.example.com with ESMTPS id %s; %s
Date: %s
From: %s <%s>
To: %s
Subject: Out of office
Auto-Submitted: auto-replied
In-Reply-To: <newsletter.%s@news.example.com>
References: <newsletter.%s@news.example.com>
Message-Id: <vacation.%s@mail.%s>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hello,

I am out of the office until Monday, 17 March, with limited access to
e-mail. For urgent matters please contact the front desk at
frontdesk@%s or call the office.

Best regards,
%s
`, p.Rcpt, p.Domain, p.Domain, p.ID, p.Date, p.Date, p.Local, p.Rcpt, p.ReturnPath,
		p.ID, p.ID, p.ID, p.Domain, p.Domain, p.Local)
}
