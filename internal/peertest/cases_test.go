package peertest

import "strings"

// stage is the SMTP command the fake MX refuses.
type stage string

const (
	atRCPT stage = "RCPT TO"
	atDATA stage = "end of DATA" // RCPT TO is accepted, the message refused
)

// replyCase is one reply the fake MX gives, taken from a row of a code
// table in ../shared/seeds, and what the sink must make of every bounce a
// real MTA writes for it.
//
// seed cites the row as FILE:LINE, FILE being the number that opens the
// seed's file name:
//
//	000  000_54059fa60512678a.txt  GoDaddy's bounce messages (Japanese edition)
//	001  001_e3c68e92237fffa5.txt  Exchange Online's NDR codes
//	002  002_b97c97406f6f298d.txt  a host's code list: RFC 5321 codes, Yahoo, Gmail, Outlook.com
//	003  003_e2c34694c5ae95e1.txt  a host's Postfix bounce texts
//	004  004_b101703dfa978742.txt  Gmail's codes, as another page lists them
//
// The replies are the rows' words as the server sends them: the pages'
// typographic quotes and dashes written in ASCII, placeholders filled in
// ({rcpt} is the recipient). Where a page gives only a code and its
// meaning (002's RFC 5321 table), the reply is RFC 5321 s4.2.2's text for
// that code; where it translates a reply (000:99), the English original.
// Left out: rows in Japanese (000's GoDaddy texts): a server replies in
// ASCII (RFC 5321 s2.4) and the MTAs mangle other bytes in what they
// quote; and texts that are not a server's reply (003's local delivery
// errors, 004's Outlook client error numbers).
//
// A 5xx gets one bounce of class class. A 4xx gets first a delay warning
// (class delayed), then, once the MTA's shortened queue lifetime is over,
// a final report of class class: soft, as LABELING.md says of a message
// given up after retrying temporary errors (the judge's rule in issue 9).
// Where the reply blames the sender (an IP temporarily blocked, a rate,
// TLS), LABELING.md's block fits the final report too: also names it.
type replyCase struct {
	seed    string
	stage   stage
	reply   string
	class   string
	also    string   // a second class LABELING.md allows; "" for none
	reasons []string // reasons that fit; nil leaves the reason unchecked
	// sends is how many newsletters go to the recipient (default 1), and
	// suppressed whether the sink must then suppress it: the store's policy
	// suppresses an address after two hard bounces, never for soft ones
	// this few or for blocks.
	sends      int
	suppressed bool
}

// expired is the reason of a message given up after retries; a final
// report may name it or the cause of the last reply.
const expired = "expired"

// cases are the replies of the fake MX, at least 40 by the issue's
// measure. Each recipient domain cNN.example.org (NN counted from 01) is
// served by its own loopback address, so that an MTA that takes a 421 as
// the whole host's failure stops talking to that host only.
var cases = []replyCase{
	// Temporary (4xx) at RCPT TO: recipient-side or unspecified causes.
	{seed: "004:30", stage: atRCPT, reply: "450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time. If the user is able to receive mail at that time, your message will be delivered.",
		class: "soft", reasons: []string{expired, "recipient_rate"}},
	{seed: "002:262", stage: atRCPT, reply: "452 4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to Clear Google Drive space & increase storage.",
		class: "soft", reasons: []string{expired, "mailbox_full"}},
	{seed: "002:250", stage: atRCPT, reply: "451 4.3.0 Mail server temporarily rejected message.", class: "soft"},
	{seed: "002:203", stage: atRCPT, reply: "421 4.3.0 Temporary System Problem. Try again later", class: "soft"},
	{seed: "002:208", stage: atRCPT, reply: "421 4.4.5 Server busy, try again later.", class: "soft"},
	{seed: "001:13", stage: atRCPT, reply: "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded", class: "soft"},
	{seed: "002:67", stage: atRCPT, reply: "421 mx.example.org Service not available, closing transmission channel", class: "soft"},
	{seed: "002:72", stage: atRCPT, reply: "450 Requested mail action not taken: mailbox unavailable", class: "soft"},
	{seed: "001:21", stage: atRCPT, reply: "450 4.4.317 Cannot connect to remote server [Message=UntrustedRoot]", class: "soft"},
	// Temporary at RCPT TO, the sender blamed.
	{seed: "002:216", stage: atRCPT, reply: "421 4.7.0 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily blocked.",
		class: "soft", also: "block"},
	{seed: "002:227", stage: atRCPT, reply: "421 4.7.0 TLS required for RCPT domain, closing connection.", class: "soft", also: "block"},
	{seed: "001:38", stage: atRCPT, reply: "451 4.7.500 Access denied, please try again later", class: "soft", also: "block"},
	{seed: "002:244", stage: atRCPT, reply: "450 4.2.1 Peak SMTP relay limit exceeded for customer. This is a temporary error.", class: "soft", also: "block"},
	// Temporary after DATA.
	{seed: "002:256", stage: atDATA, reply: "451 4.4.2 Timeout - closing connection.", class: "soft"},
	{seed: "002:78", stage: atDATA, reply: "451 Requested action aborted: local error in processing", class: "soft"},
	{seed: "002:83", stage: atDATA, reply: "452 Requested action not taken: insufficient system storage", class: "soft"},
	{seed: "002:253", stage: atDATA, reply: "451 4.3.0 Multiple destination domains per transaction is unsupported. Please try again.", class: "soft", also: "block"},

	// Permanent (5xx): the address does not exist or is closed.
	{seed: "002:338", stage: atRCPT, reply: "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.",
		class: "hard", reasons: []string{"user_unknown"}, sends: 2, suppressed: true},
	{seed: "002:343", stage: atRCPT, reply: "550 5.2.1 The email account that you tried to reach is disabled.", class: "hard", reasons: []string{"disabled"}},
	{seed: "002:413", stage: atRCPT, reply: "553 5.1.2 We weren't able to find the recipient domain. Please check for any spelling errors, and make sure you didn't enter any spaces, periods, or other punctuation after the recipient's email address.",
		class: "hard", reasons: []string{"domain_unknown"}},
	{seed: "001:44", stage: atRCPT, reply: "550 5.1.1 Bad destination mailbox address", class: "hard", reasons: []string{"user_unknown"}},
	{seed: "001:55", stage: atRCPT, reply: "550 5.1.10 Recipient not found", class: "hard", reasons: []string{"user_unknown"}},
	{seed: "001:67", stage: atRCPT, reply: "550 5.4.1 Recipient address rejected: Access denied", class: "hard"},
	{seed: "001:76", stage: atRCPT, reply: "550 5.5.0 Requested action not taken: mailbox unavailable", class: "hard"},
	{seed: "001:125", stage: atRCPT, reply: "550 5.7.504 {rcpt}: Recipient address rejected: Access denied", class: "hard"},
	{seed: "000:94", stage: atRCPT, reply: "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found", class: "hard", reasons: []string{"user_unknown"}},
	{seed: "000:99", stage: atRCPT, reply: "550 5.4.1 Recipient Address Rejected: Access denied. AS(201806281)", class: "hard"},
	{seed: "003:44", stage: atRCPT, reply: "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual alias table", class: "hard", reasons: []string{"user_unknown"}},
	{seed: "003:46", stage: atDATA, reply: "550 Unknown user {rcpt}", class: "hard", reasons: []string{"user_unknown"}},
	{seed: "003:50", stage: atRCPT, reply: "550 Invalid recipient: <{rcpt}>", class: "hard", reasons: []string{"user_unknown"}},
	{seed: "003:61", stage: atRCPT, reply: "550 Requested action not taken: mailbox unavailable", class: "hard"},
	{seed: "003:63", stage: atRCPT, reply: "550 #5.1.0 Address rejected.", class: "hard"},
	{seed: "003:65", stage: atRCPT, reply: "550 relaying denied by recipient not exist of check_relay_rcpt plugin", class: "hard"},

	// Permanent, yet the recipient's mailbox may recover: soft.
	{seed: "002:407", stage: atRCPT, reply: "552 5.2.2 The email account that you tried to reach is over quota.",
		class: "soft", reasons: []string{"mailbox_full"}, sends: 2},
	{seed: "002:362", stage: atRCPT, reply: "550 5.7.1 Email quota exceeded.", class: "soft", reasons: []string{"mailbox_full"}},
	{seed: "002:346", stage: atRCPT, reply: "550 5.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.", class: "soft"},
	{seed: "001:68", stage: atDATA, reply: "554 5.4.14 Routing loop detected", class: "soft"},

	// Permanent, the sender refused: block.
	{seed: "002:368", stage: atRCPT, reply: "550 5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked.",
		class: "block", sends: 2},
	{seed: "002:380", stage: atRCPT, reply: "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers. Please use the SMTP relay at your service provider instead.", class: "block"},
	{seed: "002:355", stage: atRCPT, reply: "550 5.7.0 Mail relay denied.", class: "block", reasons: []string{"relay_denied"}},
	{seed: "003:67", stage: atRCPT, reply: "554 5.7.1 <{rcpt}>: Relay access denied", class: "block", reasons: []string{"relay_denied"}},
	{seed: "001:54", stage: atRCPT, reply: "550 5.1.8 Access denied, bad outbound sender", class: "block"},
	{seed: "001:92", stage: atRCPT, reply: "550 5.7.12 Sender was not authenticated by organization", class: "block"},
	{seed: "001:127", stage: atRCPT, reply: "550 5.7.506 Access Denied, Bad HELO", class: "block"},
	{seed: "001:138", stage: atRCPT, reply: "550 5.7.513 Service unavailable, Client host [127.0.0.1] blocked by example.org using Customer Block list (AS16012607)",
		class: "block", reasons: []string{"ip_blocklisted"}},
	{seed: "000:101", stage: atRCPT, reply: "550 5.7.705 Access denied, tenant has exceeded threshold", class: "block"},
	{seed: "002:183", stage: atRCPT, reply: "521 smtp.mail.yahoo.co.jp closing transmission channel. This ip address is blacklisted.", class: "block", reasons: []string{"ip_blocklisted"}},
	{seed: "002:442", stage: atRCPT, reply: "550 SC-001 (BAY004-MC5F36) Unfortunately, messages from 127.0.0.1 weren't sent. Please contact your Internet service provider since part of their network is on our block list.", class: "block"},
	{seed: "002:451", stage: atRCPT, reply: "550 DY-001 (BAY004-MC5F36) Mail rejected by Outlook.com for policy reasons. We generally do not accept email from dynamic IP's as they are not typically used to deliver unauthenticated SMTP e-mail to an Internet mail server.", class: "block"},
	// ... after DATA: content, authentication, size.
	{seed: "002:374", stage: atDATA, reply: "550 5.7.1 Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.",
		class: "block", reasons: []string{"spam_content"}},
	{seed: "002:395", stage: atDATA, reply: "550 5.7.26 Unauthenticated email from news.example.com is not accepted due to domain's DMARC policy. Please contact the administrator of news.example.com domain. If this was a legitimate mail please visit Control unauthenticated mail from your domain to learn about the DMARC initiative.",
		class: "block", reasons: []string{"auth_failed"}},
	{seed: "001:93", stage: atDATA, reply: "550 5.7.23 The message was rejected because of Sender Policy Framework violation", class: "block", reasons: []string{"auth_failed"}},
	{seed: "002:189", stage: atDATA, reply: "521 smtp.mail.yahoo.co.jp closing transmission channel. This mail is regarded as spam.", class: "block", reasons: []string{"spam_content"}},
	{seed: "002:458", stage: atDATA, reply: "550 OU-002 (BAY004-MC5F36) Mail rejected by Outlook.com for policy reasons. Reasons for rejection may be related to content with spam-like characteristics or IP/domain reputation problems.", class: "block"},
	{seed: "002:420", stage: atDATA, reply: "554 5.6.0 Mail message is malformed. Not accepted.", class: "block"},
	{seed: "002:410", stage: atDATA, reply: "552 5.2.3 Your message exceeded Google's message size limits.", class: "block"},
	{seed: "003:26", stage: atDATA, reply: "552 5.3.4 Message size exceeds fixed limit", class: "block", reasons: []string{"too_large"}},
}

// temporary reports whether the case's reply is a 4xx.
func (c replyCase) temporary() bool { return strings.HasPrefix(c.reply, "4") }

// nsends is how many newsletters go to the case's recipient.
func (c replyCase) nsends() int { return max(c.sends, 1) }

// text is the case's reply for rcpt.
func (c replyCase) text(rcpt string) string { return strings.ReplaceAll(c.reply, "{rcpt}", rcpt) }
