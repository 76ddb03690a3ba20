package admin

import "github.com/bouncesink/bouncesink/classify"

// reasonsEN explains each reason token in English: the likely cause, and
// what the sender can do about it. Written for bouncesink from the cause
// and remedy columns of the bounce-code tables in ../shared/seeds/.
var reasonsEN = map[classify.Reason]Explanation{
	classify.UserUnknown: {
		"The receiving server says there is no mailbox by this name: a typo, or an account that was closed.",
		"Check the address for typos; if it is right, stop mailing it and ask the person for a new address by other means.",
	},
	classify.DomainUnknown: {
		"The domain does not exist or has no mail server (no MX or address record).",
		"Check the domain part for typos. A domain that has lapsed will not come back; remove the address.",
	},
	classify.Moved: {
		"The person has moved; the server no longer delivers to this address and may name a new one.",
		"Read the diagnostic for a forwarding address and update your list with the person's consent.",
	},
	classify.Disabled: {
		"The mailbox exists but is disabled or suspended, usually for good.",
		"Stop mailing it. If the person still wants your mail, they must reactivate the account or give you another address.",
	},
	classify.NotAccept: {
		"The domain publishes that it accepts no mail at all (null MX, RFC 7505).",
		"Remove the address: no mail to this domain can be delivered.",
	},
	classify.MailboxFull: {
		"The recipient's mailbox is full or over its quota.",
		"Nothing to fix on your side; later sends may pass once they clean up. Repeated over weeks, treat the mailbox as abandoned.",
	},
	classify.ExceedLimit: {
		"The message is larger than the recipient's own size limit.",
		"Send smaller messages: link to large files instead of attaching them.",
	},
	classify.RecipientRate: {
		"The recipient is receiving mail faster than their server allows.",
		"Retry later and spread your sends to this recipient over time.",
	},
	classify.SystemFull: {
		"The receiving server is out of storage.",
		"A temporary problem at the receiver; retry later.",
	},
	classify.SystemError: {
		"The receiving system failed or is unavailable for now.",
		"Retry later. If it persists for days, contact the recipient by other means.",
	},
	classify.MailerError: {
		"A local delivery program on the receiving server failed.",
		"A problem at the receiver; retry later.",
	},
	classify.NetworkError: {
		"Connecting to the receiving server failed: connection refused, DNS or routing trouble, or a timeout.",
		"Usually temporary. If it lasts, check the domain's MX records and whether your sending host can reach it.",
	},
	classify.Expired: {
		"Your mail server gave up after retrying for a long time on temporary failures.",
		"Check whether the domain still receives mail (MX records, server reachable); the address itself may be fine.",
	},
	classify.Filtered: {
		"A filter at the recipient refused the message (their own rules, or the server judged it unwanted), not the address.",
		"Ask the recipient to allow your sender address or domain; check that the message does not look like spam.",
	},
	classify.IPBlocklisted: {
		"Your sending IP address or host is on a blocklist, or blocked by the receiver.",
		"Look the IP up on public blocklists (Spamhaus, etc.), fix the cause (compromised account, bad list) and request delisting.",
	},
	classify.BadReputation: {
		"The receiver judges your sending IP or domain to have a poor reputation.",
		"Send only to people who asked for your mail, remove dead addresses, slow down, and watch complaint rates.",
	},
	classify.PTRRequired: {
		"Your sending IP has no reverse DNS (PTR) record, or it does not match the host name you announce.",
		"Set a PTR record for the sending IP whose name resolves back to the same IP, and use it in HELO/EHLO.",
	},
	classify.AuthFailed: {
		"The message failed SPF, DKIM or DMARC checks at the receiver.",
		"Publish an SPF record that includes your sending servers, sign with DKIM, and align your From: domain for DMARC.",
	},
	classify.SpamContent: {
		"The receiver's filter judged the content to be spam.",
		"Review the content and links (URL shorteners, listed domains), and make sure recipients opted in.",
	},
	classify.Virus: {
		"A virus or a dangerous attachment or link was found in the message.",
		"Scan your templates and attachments; avoid executable or macro attachments.",
	},
	classify.ContentError: {
		"The receiver refused the message's content or format (encoding, attachment type).",
		"Check the MIME structure and attachment types of the message.",
	},
	classify.NotCompliant: {
		"The message breaks the mail standards (RFC 5322): missing or malformed headers such as Date, From or Message-ID.",
		"Fix the headers your mailing software writes; a message that validates will pass.",
	},
	classify.TooLarge: {
		"The message is larger than the receiving system accepts.",
		"Send smaller messages: link to large files, compress images.",
	},
	classify.TooManyConnections: {
		"You opened too many connections, or named too many recipients in one message.",
		"Lower concurrency toward this domain and send to fewer recipients per message.",
	},
	classify.RateLimited: {
		"You are sending to this receiver faster than it accepts.",
		"Throttle: fewer messages per minute to this domain, and retry later.",
	},
	classify.RelayDenied: {
		"The server refused to relay: it does not handle mail for this domain, or wanted you to authenticate.",
		"Check the recipient domain's MX records and your outgoing server settings.",
	},
	classify.TLSRequired: {
		"The receiver requires an encrypted connection (STARTTLS), or the TLS handshake failed.",
		"Enable TLS on your sending server and keep its certificates and protocol versions current.",
	},
	classify.SecurityError: {
		"Authentication or another security feature the receiver requires was missing or failed.",
		"Check your server's authentication and security settings against what the receiver asks for.",
	},
	classify.SyntaxError: {
		"An SMTP command or parameter was malformed or out of sequence.",
		"A fault in the sending software or a proxy in between; check its configuration and logs.",
	},
	classify.RejectedSender: {
		"The envelope sender (return path) was refused: its domain is invalid, unresolvable, or blocked.",
		"Send from a domain with valid DNS (MX or address records) and check that bouncesink's return path resolves.",
	},
	classify.Policy: {
		"A site policy at the receiver refused the message.",
		"Read the diagnostic for the policy named; contact the receiving site's postmaster if it is unclear.",
	},
	classify.Feedback: {
		"The recipient marked your message as spam, and their provider reported it (a feedback loop).",
		"Stop mailing this person. Make unsubscribing easy and send only what people signed up for.",
	},
	classify.Vacation: {
		"An automatic reply: out of office, vacation, or a challenge-response system.",
		"Nothing to do; the message was delivered.",
	},
	classify.DeliveredOK: {
		"A delivery report saying the message was delivered.",
		"Nothing to do.",
	},
	classify.ReasonUnknown: {
		"bouncesink could not tell why this message came back.",
		"Open the raw message and read the diagnostic; if it is a bounce bouncesink should know, report it.",
	},
}
