package classify

// Reason is a short, language-neutral token saying why a message failed.
// The API and the store carry it as is; the admin page explains it.
type Reason string

// The reason taxonomy. Each reason belongs to exactly one class (see
// reasonClass); a temporary (4xx) failure of an address-dead reason is
// soft, not hard, because the receiver itself said it may pass.
const (
	// The address is dead.
	UserUnknown   Reason = "user_unknown"   // no such mailbox (X.1.1)
	DomainUnknown Reason = "domain_unknown" // no such domain or host (X.1.2, X.4.4)
	Moved         Reason = "moved"          // the user has moved (X.1.6, X.7.17)
	Disabled      Reason = "disabled"       // the mailbox is disabled or suspended (X.2.1, X.7.13)
	NotAccept     Reason = "not_accept"     // the domain accepts no mail at all (null MX, RFC 7505)

	// The recipient's side failed for now.
	MailboxFull   Reason = "mailbox_full"   // mailbox full or over quota (X.2.2)
	ExceedLimit   Reason = "exceed_limit"   // larger than the recipient's own limit (X.2.3)
	RecipientRate Reason = "recipient_rate" // the recipient receives mail too fast (4.2.1 at Gmail)
	SystemFull    Reason = "system_full"    // the receiving system is out of storage (X.3.1)
	SystemError   Reason = "system_error"   // the receiving system failed (X.3.x, X.4.5)
	MailerError   Reason = "mailer_error"   // a local delivery program failed
	NetworkError  Reason = "network_error"  // connection, DNS or routing trouble (X.4.x)
	Expired       Reason = "expired"        // given up after retrying temporary errors (X.4.7)
	Filtered      Reason = "filtered"       // the recipient's own filter refused it

	// The sender was refused.
	IPBlocklisted      Reason = "ip_blocklisted"       // sending IP or host on a blocklist or blocked
	BadReputation      Reason = "bad_reputation"       // the sender's reputation is too low
	PTRRequired        Reason = "ptr_required"         // no or mismatched reverse DNS (X.7.25)
	AuthFailed         Reason = "auth_failed"          // SPF, DKIM, DMARC or ARC failed (X.7.20-29)
	SpamContent        Reason = "spam_content"         // the content looked like spam
	Virus              Reason = "virus"                // a virus was found
	ContentError       Reason = "content_error"        // the content was refused (X.6.x)
	NotCompliant       Reason = "not_compliant"        // the message breaks RFC 5322 or similar
	TooLarge           Reason = "too_large"            // larger than the system's limit (X.3.4)
	TooManyConnections Reason = "too_many_connections" // too many connections or recipients
	RateLimited        Reason = "rate_limited"         // the sender sends too fast
	RelayDenied        Reason = "relay_denied"         // the server refused to relay
	TLSRequired        Reason = "tls_required"         // encryption was required (X.7.10, X.7.11)
	SecurityError      Reason = "security_error"       // authentication or security features missing
	SyntaxError        Reason = "syntax_error"         // SMTP syntax or protocol error (X.5.x)
	RejectedSender     Reason = "rejected_sender"      // the envelope sender was refused (X.1.7, X.1.8)
	Policy             Reason = "policy"               // refused by a site policy

	// Not failures.
	Feedback      Reason = "feedback"  // ARF complaint
	Vacation      Reason = "vacation"  // auto-reply
	DeliveredOK   Reason = "delivered" // positive DSN
	ReasonUnknown Reason = "unknown"
)

// reasonClass is the one table from reason to class. Address-dead reasons
// map to Hard here; decide downgrades them to Soft on a temporary code.
var reasonClass = map[Reason]Class{
	UserUnknown: Hard, DomainUnknown: Hard, Moved: Hard, Disabled: Hard, NotAccept: Hard,

	MailboxFull: Soft, ExceedLimit: Soft, RecipientRate: Soft, SystemFull: Soft,
	SystemError: Soft, MailerError: Soft, NetworkError: Soft, Filtered: Soft,
	// A message that expired in the queue is a final failure: the sending
	// MTA gave up after retrying temporary errors (LABELING.md). It is soft,
	// not delayed; delayed is only a warning that delivery is still being
	// retried (Action: delayed), which decide reads from the report.
	Expired: Soft,

	IPBlocklisted: Block, BadReputation: Block, PTRRequired: Block, AuthFailed: Block,
	SpamContent: Block, Virus: Block, ContentError: Block, NotCompliant: Block,
	TooLarge: Block, TooManyConnections: Block, RateLimited: Block, RelayDenied: Block,
	TLSRequired: Block, SecurityError: Block, SyntaxError: Block, RejectedSender: Block,
	Policy: Block,

	Feedback: Complaint, Vacation: AutoReply, DeliveredOK: Delivered, ReasonUnknown: Unknown,
}

// Reasons lists every reason token, for documentation and the admin page.
func Reasons() []Reason {
	return []Reason{
		UserUnknown, DomainUnknown, Moved, Disabled, NotAccept,
		MailboxFull, ExceedLimit, RecipientRate, SystemFull, SystemError, MailerError,
		NetworkError, Expired, Filtered,
		IPBlocklisted, BadReputation, PTRRequired, AuthFailed, SpamContent, Virus,
		ContentError, NotCompliant, TooLarge, TooManyConnections, RateLimited, RelayDenied,
		TLSRequired, SecurityError, SyntaxError, RejectedSender, Policy,
		Feedback, Vacation, DeliveredOK, ReasonUnknown,
	}
}

// ClassOf returns the class a reason belongs to when the failure is permanent.
func ClassOf(r Reason) Class {
	if c, ok := reasonClass[r]; ok {
		return c
	}
	return Unknown
}
