package classify

import (
	"strings"
)

// finding is what a decoder extracts about one recipient, before any
// judgement. decide turns it into a Verdict with the rules shared by every
// decoder, so a new format only has to say where the fields are.
type finding struct {
	recipient    string
	action       string // RFC 3464 s2.3.3
	status       string // as found; normalised by decide
	code         int    // SMTP reply code, if the decoder found it separately
	diagnostic   string
	remoteMTA    string
	reportingMTA string
	// reason, when set, is the decoder's own reading (a provider's code
	// table, a section header that says "permanent"), ranked above text rules.
	reason Reason
	rule   string // the evidence rule for reason
	// temporary, when set, says the report itself calls the failure
	// transient (a "delayed" section, a 4xx-only transcript).
	temporary bool
}

// decide applies, in order of trust: the DSN Action; the decoder's own
// reason; a specific enhanced status code; the text rules on the
// diagnostic; a broad status code; and finally the reply code alone.
func decide(decoder string, f finding) Verdict {
	v := Verdict{
		Recipient:    cleanAddress(f.recipient),
		Action:       strings.ToLower(strings.TrimSpace(f.action)),
		Diagnostic:   cleanDiagnostic(f.diagnostic),
		RemoteMTA:    stripType(f.remoteMTA),
		ReportingMTA: stripType(f.reportingMTA),
		Evidence:     Evidence{Decoder: decoder},
	}
	v.Status = parseStatus(f.status)
	if inText := statusInText(v.Diagnostic); inText != "" && (v.Status == "" || isGenericStatus(v.Status) && !isGenericStatus(inText)) {
		// A generic Status (X.0.0) gives way to a specific code the
		// remote server put in its reply.
		v.Status = inText
	}
	v.SMTPCode = f.code
	if v.SMTPCode == 0 {
		v.SMTPCode = replyCodeInText(v.Diagnostic)
	}
	if v.Status != "" && v.SMTPCode != 0 && v.Status[0] != byte('0'+v.SMTPCode/100) && v.SMTPCode/100 != 2 {
		// The reply code and the status disagree on the class; trust the
		// status only if it came from the structured field.
		if f.status == "" {
			v.Status = ""
		}
	}

	v.Reason, v.Evidence.Rule = reasonFor(f, v.Status, v.Diagnostic)
	v.Class = ClassOf(v.Reason)
	temp := f.temporary || temporary(v.Status, v.SMTPCode)
	if v.Class == Hard && temp {
		v.Class = Soft
	}
	switch v.Action {
	case "delayed":
		v.Class = Delayed
	case "delivered", "relayed", "expanded":
		v.Class, v.Reason, v.Evidence.Rule = Delivered, DeliveredOK, "action-"+v.Action
	}
	return v
}

func reasonFor(f finding, status, diag string) (Reason, string) {
	if f.reason != "" {
		return f.reason, f.rule
	}
	st, known := statusReason[statusSubject(status)]
	if known && st.strong {
		return st.reason, "status-" + status
	}
	if r := matchText(diag); r != nil {
		return r.reason, "text-" + r.name
	}
	if known {
		return st.reason, "status-" + status
	}
	return ReasonUnknown, "none"
}

// cleanAddress strips an RFC 3464 address type ("rfc822;"), angle brackets
// and quotes, and lower-cases the address.
func cleanAddress(s string) string {
	s = stripType(s)
	s = strings.Trim(s, " \t<>\"'`()[]:;,.")
	if i := strings.IndexAny(s, "<"); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	s = strings.TrimSpace(s)
	if !looksLikeAddress(s) {
		return ""
	}
	return strings.ToLower(s)
}

// looksLikeAddress accepts local@domain with a dotted or bracketed domain.
func looksLikeAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 320 {
		return false
	}
	if strings.ContainsAny(s, " \t\r\n<>,;") {
		return false
	}
	return true
}

// stripType removes an RFC 3464 type prefix ("rfc822; a@b", "dns; mx.example").
func stripType(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i > 0 && i < 20 && !strings.ContainsAny(s[:i], " @<") {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// cleanDiagnostic strips the diagnostic type and folds white space.
func cleanDiagnostic(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i > 0 && i < 12 && !strings.ContainsAny(s[:i], " @<") {
		typ := strings.ToLower(strings.TrimSpace(s[:i]))
		if typ == "smtp" || typ == "x-unix" || typ == "x-postfix" || strings.HasPrefix(typ, "x-") || typ == "unix" {
			keep := ""
			if typ == "x-unix" {
				keep = "x-unix; " // the mailer-error rule needs to see it
			}
			s = keep + strings.TrimSpace(s[i+1:])
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}
