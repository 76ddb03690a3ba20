package classify

import (
	"strings"

	gomessage "github.com/emersion/go-message"
)

// The ARF decoder reads feedback reports (RFC 5965): a multipart/report
// with report-type=feedback-report whose message/feedback-report part names
// the Feedback-Type and, when the provider does not redact it, the
// complaining recipient (Original-Rcpt-To, RFC 5965 s3.2). Where that
// field is missing the recipient comes from the returned message's To, then
// from the VERP tag. A recipient the provider redacted (RFC 6590) is left
// empty rather than guessed. It also reads two non-ARF complaint formats
// that recur: Microsoft's JMRP (the returned message carries
// X-HmXmrOriginalRecipient) and one-click unsubscribe mails (RFC 8058-style
// X-Apple-Unsubscribe), which are the recipient asking to stop.
func init() {
	register(decoder{name: "arf", order: orderFeedback, decode: decodeARF})
}

func decodeARF(m *message) []Verdict {
	report := m.partsOf("message/feedback-report")
	switch {
	case len(report) > 0 || strings.EqualFold(m.params["report-type"], "feedback-report"):
		embedded, hasEmbedded := m.embeddedHeader()
		return arfVerdicts(m, report, embedded, hasEmbedded)
	case m.embeddedField("X-HmXmrOriginalRecipient") != "":
		return []Verdict{complaint(m.embeddedField("X-HmXmrOriginalRecipient"), "abuse", "jmrp-original-recipient")}
	case strings.EqualFold(m.get("X-Apple-Unsubscribe"), "true"):
		return []Verdict{complaint(firstAddress(m.get("From")), "unsubscribe", "unsubscribe-request")}
	}
	return nil
}

func arfVerdicts(m *message, report []part, embedded gomessage.Header, hasEmbedded bool) []Verdict {
	fields := dsnFields{}
	for _, p := range report {
		pm, rs := parseDSNFields(string(p.body))
		for k, v := range pm {
			fields[k] = append(fields[k], v...)
		}
		for _, r := range rs {
			for k, v := range r {
				fields[k] = append(fields[k], v...)
			}
		}
	}
	ft := strings.ToLower(fields.get("feedback-type"))
	if ft == "" {
		ft = "abuse"
	}
	var out []Verdict
	for _, r := range fields["original-rcpt-to"] {
		if addr := cleanAddress(r); addr != "" && !redacted(addr, fields) {
			out = append(out, complaint(addr, ft, "original-rcpt-to"))
		}
	}
	if len(out) > 0 {
		return out
	}
	if hasEmbedded {
		for _, key := range []string{"X-HmXmrOriginalRecipient", "To", "Delivered-To", "X-Original-To"} {
			addr := firstAddress(headerText(embedded, key))
			if addr == "" {
				continue
			}
			if redacted(addr, fields) {
				break
			}
			return []Verdict{complaint(addr, ft, "embedded-"+strings.ToLower(key))}
		}
	}
	// Redacted or absent: a complaint without a recipient, unless the VERP
	// tag names one (filled in by finish).
	return []Verdict{complaint("", ft, "no-recipient")}
}

// redacted reports whether an address is a provider's redaction
// placeholder: its local part equals a Redacted-Address value, or is
// literally "redacted" (RFC 6590 s3).
func redacted(addr string, fields dsnFields) bool {
	local := addr
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		local = addr[:at]
	}
	if local == "redacted" {
		return true
	}
	for _, r := range fields["redacted-address"] {
		r = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(r)), "@")
		if r != "" && (r == local || r == addr) {
			return true
		}
	}
	return false
}

func complaint(rcpt, feedbackType, rule string) Verdict {
	return Verdict{
		Recipient:    cleanAddress(rcpt),
		Class:        Complaint,
		Reason:       Feedback,
		FeedbackType: feedbackType,
		Evidence:     Evidence{Decoder: "arf", Rule: rule},
	}
}

// firstAddress returns the first address in a header value such as
// `"Name" <a@b>, c@d`, or "".
func firstAddress(v string) string {
	v = decodeWord(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return cleanAddress(v[i+1 : i+j])
		}
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if a := cleanAddress(f); a != "" {
			return a
		}
	}
	return ""
}
