package classify

import "testing"

// A relay or MTA that reports another server's refusal often wraps that
// server's reply in words and a status of its own: SES's "5.1.0 - Unknown
// address error 550-'5.7.1 ...'", Postfix's "host X said: 550 ...",
// Exchange's "Remote Server returned '550 5.7.1 ...'". The quoted reply is
// what the receiving server said, and its code and words decide; the
// wrapper's summary is a guess made from it. Each case is the same minimal
// DSN (no provider's headers), so no provider decoder claims it.
func TestInnerReplyDecides(t *testing.T) {
	cases := []struct {
		status, diag string
		want         Class
		wantStatus   string
		wantCode     int
	}{
		// SES's summary without SES's headers: the remote server refused
		// the sender (5.7.1, access denied), not a dead address.
		{"5.1.0", "smtp; 5.1.0 - Unknown address error 550-'5.7.1 <someone@example.org>... Access denied' (delivery attempts: 0)", Block, "5.7.1", 550},
		// The same shape from another relay's wording, the other way round:
		// the wrapper guesses a policy refusal, the server says no such user.
		{"5.7.1", "smtp; 5.7.1 - Policy rejection error 550-'5.1.1 <someone@example.org>... User unknown' (delivery attempts: 1)", Hard, "5.1.1", 550},
		// A relay's own summary words, then the remote reply after "said:".
		{"5.1.1", "smtp; Recipient address unknown: host mx.example.org[192.0.2.1] said: 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org (in reply to RCPT TO command)", Block, "5.7.1", 554},
		// "remote server replied:" with a bare reply code and no enhanced
		// code: the report's Status stays (nothing replaces it), as a broad
		// hint the reply's words beat.
		{"5.1.1", "smtp; Invalid recipient (remote server replied: 554 Message refused for policy reasons)", Block, "5.1.1", 554},
		// Exchange's wrapper around the remote reply.
		{"5.1.0", "smtp; 550 5.1.0 Unknown address error; Remote Server returned '552 5.2.2 Mailbox full, quota exceeded'", Soft, "5.2.2", 552},
		// A wrapper that calls a full mailbox a delivery error: the quoted
		// reply says the user does not exist.
		{"5.2.2", `smtp; Mailbox quota error: the receiving server said "550 5.1.1 No such user here"`, Hard, "5.1.1", 550},
		{"5.1.1", "smtp; User unknown: host mx.example.org[192.0.2.1] said: 550 5.7.1 <someone@example.org>... Access denied (in reply to RCPT TO command)", Block, "5.7.1", 550},
		{"5.1.1", "smtp; Mailbox unavailable; Remote Server returned '550 5.7.1 Sender denied'", Block, "5.7.1", 550},
		{"5.1.1", "smtp; No such recipient (remote server replied: 452 4.2.2 Mailbox full)", Soft, "4.2.2", 452},
		// Controls: the wrapper's own reply is the only one; nothing moves.
		{"5.1.1", "smtp; 550 5.1.1 <someone@example.org>: Recipient address rejected: User unknown in local recipient table", Hard, "5.1.1", 550},
		{"5.7.1", "smtp; 554 5.7.1 Access denied by policy (delivery attempts: 0)", Block, "5.7.1", 554},
		{"5.1.0", "smtp; 5.1.0 - Unknown address error (delivery attempts: 0)", Hard, "5.1.0", 0},
		// A figure after a colon is not a quoted reply.
		{"5.0.0", "smtp; 550 Daily sending limit: 500 messages per day exceeded", Block, "5.0.0", 550},
		{"5.0.0", "smtp; 552 Message size: 450 MB exceeds the limit", Unknown, "5.0.0", 552},
		// A multi-line reply repeats its code on every line: one reply,
		// read whole.
		{"", "smtp; 550-5.7.1 This message was blocked because its content 550-5.7.1 presents a potential security issue. 550 5.7.1 Please visit the help page", Block, "5.7.1", 550},
	}
	for _, c := range cases {
		v := Classify(minimalDSN(c.status, c.diag), Input{})
		if len(v) != 1 {
			t.Errorf("%q: got %d verdicts %+v, want 1", c.diag, len(v), v)
			continue
		}
		if v[0].Class != c.want || v[0].Status != c.wantStatus || v[0].SMTPCode != c.wantCode {
			t.Errorf("%q (Status %q): got class %s status %q code %d (%s), want %s %q %d",
				c.diag, c.status, v[0].Class, v[0].Status, v[0].SMTPCode, v[0].Evidence.Rule, c.want, c.wantStatus, c.wantCode)
		}
	}
}
