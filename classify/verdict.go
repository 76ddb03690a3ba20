package classify

import "time"

// Class is what a verdict means for the recipient's address.
type Class string

// The classes. Only Hard, Soft (when persistent) and Complaint can ever
// lead to a suppression; that policy lives in store, not here.
const (
	Hard      Class = "hard"      // the address is permanently undeliverable
	Soft      Class = "soft"      // recipient-side and temporary
	Block     Class = "block"     // the sender (IP, domain, auth, content, rate) was refused
	Complaint Class = "complaint" // ARF feedback report (RFC 5965)
	AutoReply Class = "autoreply" // vacation, out-of-office, challenge-response (RFC 3834)
	Delayed   Class = "delayed"   // a warning: the MTA is still trying
	Delivered Class = "delivered" // a positive DSN
	Unknown   Class = "unknown"   // nothing could be decided
)

// Evidence says which decoder and which field or rule decided a verdict,
// so an admin can see why an address was classified as it was.
type Evidence struct {
	Decoder string `json:"decoder"`          // e.g. "rfc3464", "postfix", "arf"
	Rule    string `json:"rule"`             // e.g. "status-5.1.1", "text-user-unknown"
	Detail  string `json:"detail,omitempty"` // optional hint, e.g. a new address from an auto-reply
}

// Verdict is the classification of one recipient named by one message.
type Verdict struct {
	// Recipient is the failed recipient, normalised to lower case; empty
	// when the message names none (garbage, a redacted ARF report).
	Recipient    string   `json:"recipient"`
	Class        Class    `json:"class"`
	Reason       Reason   `json:"reason"`
	Status       string   `json:"status"`    // enhanced status code, RFC 3463, e.g. "5.1.1"
	SMTPCode     int      `json:"smtp_code"` // reply code, RFC 5321 s4.2, e.g. 550
	Action       string   `json:"action"`    // RFC 3464 s2.3.3: failed, delayed, delivered, relayed, expanded
	Diagnostic   string   `json:"diagnostic"`
	RemoteMTA    string   `json:"remote_mta"`
	ReportingMTA string   `json:"reporting_mta,omitempty"`
	FeedbackType string   `json:"feedback_type,omitempty"` // ARF Feedback-Type
	Evidence     Evidence `json:"evidence"`
	// Returned is what the returned message's header says of the mailing
	// it came from; the same for every verdict of a message.
	Returned Returned `json:"returned,omitzero"`
}

// Returned holds the fields of the returned original message's header
// that mailing software stamps on each message it sends, naming the
// recipient and the mailing in that software's own terms (a mailing list
// manager can then act on the exact subscriber). Each is the field's
// value as written, at most 128 bytes; empty when the bounce does not
// return it.
type Returned struct {
	ListmonkSubscriber string `json:"listmonk_subscriber,omitempty"` // X-Listmonk-Subscriber: the subscriber's UUID
	ListmonkCampaign   string `json:"listmonk_campaign,omitempty"`   // X-Listmonk-Campaign: the campaign's UUID
}

// Input is what the caller knows about a message besides its bytes.
type Input struct {
	// EnvelopeRecipient is the RCPT TO the message arrived for, e.g.
	// "bounces+alice=example.org@bounce.example.com".
	EnvelopeRecipient string
	// VERPRecipient is the original recipient decoded from the envelope
	// recipient's VERP tag by the caller, if any. It names the recipient
	// when the report does not.
	VERPRecipient string
	// Now is the time of receipt; classify never reads the clock.
	Now time.Time
}
