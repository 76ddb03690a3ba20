package classify

import (
	"strconv"
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
	// command is the SMTP command the remote server refused ("RCPT",
	// "DATA", "MAIL"), when the report says so.
	command string
	// near is the human-readable text around the recipient's address in a
	// report whose structured fields also carry a diagnostic: read only
	// when that diagnostic names no cause (an X.400 gateway's "Reason 1
	// (Unable-To-Transfer)" beside its text "MTA ... gives error message
	// 5.7.1 Unable to relay").
	near string
}

// decide applies, in order of trust: the DSN Action; the decoder's own
// reason; a specific enhanced status code; the text rules on the
// diagnostic; a broad status code; the reply code alone; and, when all of
// that names no cause, the same reading of the human-readable text around
// the recipient.
func decide(decoder string, f finding) Verdict {
	v := decideFields(decoder, f)
	if v.Reason != ReasonUnknown || f.near == "" || f.near == f.diagnostic || f.reason != "" {
		return v
	}
	g := f
	g.diagnostic, g.near = f.near, ""
	w := decideFields(decoder, g)
	if w.Reason == ReasonUnknown || w.Class == Delivered {
		return v
	}
	w.Evidence.Rule += "+human-text"
	return w
}

// decideFields decides from the finding's structured fields and its
// diagnostic.
func decideFields(decoder string, f finding) Verdict {
	// Read for each recipient that shares it: its cost is bounded.
	f.diagnostic = clipDiagnostic(f.diagnostic)
	applyRhost(&f) // what the receiving provider's words really mean
	v := Verdict{
		Recipient:    cleanAddress(f.recipient),
		Action:       strings.ToLower(strings.TrimSpace(f.action)),
		Diagnostic:   cleanDiagnostic(f.diagnostic),
		RemoteMTA:    stripType(f.remoteMTA),
		ReportingMTA: stripType(f.reportingMTA),
		Evidence:     Evidence{Decoder: decoder},
	}
	v.Status = parseStatus(f.status)
	inText, remoteCode := statusInText(v.Diagnostic)
	inferred := false
	switch {
	case inText == "":
		// The reporting MTA made the Status up from the reply code
		// (Sendmail turns any 553 into 5.1.3): a broad hint only.
		inferred = v.Status != "" && replyCodeInText(v.Diagnostic) != 0
	case v.Status == "" || isGenericStatus(v.Status) && !isGenericStatus(inText):
		v.Status = inText // a generic Status (X.0.0) gives way to a specific one
	case remoteCode != 0 && !isGenericStatus(inText):
		v.Status = inText // the remote server's own words beat the report's summary
	}
	v.SMTPCode = f.code
	if v.SMTPCode == 0 {
		v.SMTPCode = remoteCode
	}
	if v.SMTPCode == 0 {
		v.SMTPCode = replyCodeInText(v.Diagnostic)
	}
	inner := innerReply(v.Diagnostic)
	if inner != "" {
		// The reply a relay quotes is the receiving server's; its code and
		// status beat the relay's summary of it.
		v.SMTPCode = replyCodeInText(inner)
		if st, _ := statusInText(inner); st != "" {
			v.Status, inferred = st, false
		}
	}
	if v.Status != "" && v.SMTPCode != 0 && v.Status[0] != byte('0'+v.SMTPCode/100) && v.SMTPCode/100 != 2 {
		// The reply code and the status disagree on the class; trust the
		// status only if it came from the structured field.
		if f.status == "" {
			v.Status = ""
		}
	}

	if f.command == "" && v.Recipient != "" && repliesAbout(v.Diagnostic, v.Recipient) {
		f.command = "RCPT"
	}
	// The rules read the server's words, not the address it quotes: a
	// local part like "blocked@" or "filtered@" says nothing.
	words := withoutAddress(v.Diagnostic, v.Recipient)
	whole := words
	temp := f.temporary || temporary(v.Status, v.SMTPCode)
	v.Reason, v.Evidence.Rule = reasonFor(f, v.Status, words, inferred, temp, v.SMTPCode)
	if inner != "" {
		// The quoted reply's words decide; the wrapper's summary is read
		// only when the reply names no cause of its own.
		innerWords := withoutAddress(inner, v.Recipient)
		if r, rule := reasonFor(f, v.Status, innerWords, inferred, temp, v.SMTPCode); readingRank(rule) == rankCause || readingRank(rule) > readingRank(v.Evidence.Rule) {
			v.Reason, v.Evidence.Rule, words = r, rule, innerWords
		}
	}
	if ClassOf(v.Reason) == Hard && f.reason == "" {
		// Words that say the address does not exist are believed at any
		// SMTP stage and under any status, unless the same reply blames the
		// sender (its IP, domain, content or policy): then the sender was
		// refused, whatever the address.
		if r := blamesSender(words); r != nil {
			v.Reason, v.Evidence.Rule = r.reason, "text-"+r.name+"+blames-sender"
		}
	}
	if v.Reason == ReasonUnknown && temp && v.Action == "failed" {
		// A final report on a temporary failure that names no cause: the
		// MTA gave up retrying (LABELING.md: soft, not a delay warning).
		v.Reason, v.Evidence.Rule = Expired, "temporary-failed"
	}
	v.Class = ClassOf(v.Reason)
	if v.Class == Hard && temp && !(v.Action == "failed" && v.Reason == UserUnknown && v.Evidence.Rule != "text-mailbox-unavailable") {
		// A temporary refusal of a dead-looking address is soft, unless
		// the MTA has already given up on it (Action: failed): then the
		// receiver kept saying the address is dead until the end. A
		// temporary "mailbox unavailable" is RFC 5321's 450 (busy, locked),
		// not a dead address.
		v.Class = Soft
	}
	switch v.Action {
	case "delayed":
		if givenUp.MatchString(whole) { // the report's words of the message, not a reply's
			// The words say the message was given up, whatever the
			// report's Action says (OpenSMTPD heads its report of an
			// expired envelope "delayed"): a final failure, soft
			// (LABELING.md), not a warning.
			v.Action, v.Class, v.Reason, v.Evidence.Rule = "failed", Soft, Expired, "text-given-up+action-delayed"
			break
		}
		v.Class = Delayed
	case "delivered", "relayed", "expanded":
		v.Class, v.Reason, v.Evidence.Rule = Delivered, DeliveredOK, "action-"+v.Action
	}
	return v
}

// The ranks of a reading of reasonFor, from naming nothing to naming a
// cause: a relay's summary ("refused to talk to me") is read in place of
// the reply it quotes only when the reply names no cause and the summary
// says more.
const (
	rankNone     = iota
	rankCode     // the reply code alone
	rankCatchAll // a phrase that says only that something was refused
	rankCause    // a status code or a specific text rule
)

func readingRank(rule string) int {
	switch {
	case rule == "none":
		return rankNone
	case strings.HasPrefix(rule, "code-"):
		return rankCode
	case strings.HasPrefix(rule, "text-"):
		name := strings.TrimPrefix(rule, "text-")
		for i := range textRules {
			if textRules[i].name == name && textRules[i].catchAll {
				return rankCatchAll
			}
		}
	}
	return rankCause
}

// givenUp are the words of a report that its message expired in the
// queue: said of the message itself (X.4.7, "delivery time expired"),
// never of a certificate or an account, which a warning may quote.
var givenUp = markers("envelope expired", "message expired", "delivery time expired")

// reasonFor ranks the evidence: the decoder's own reading, a strong status
// code, a specific text rule, a broad status code, the catch-all text rules
// ("rejected", "denied", "blocked") that say only that something was
// refused, and last the reply code alone.
func reasonFor(f finding, status, diag string, inferred, temp bool, code int) (Reason, string) {
	if f.reason != "" {
		return f.reason, f.rule
	}
	st, known := statusEntry(status)
	if known && st.strong && !inferred {
		if over := overridesStatus[st.reason]; over != nil {
			// Only the server's sentence may overrule its code, not the
			// path of a help link it appends.
			r := matchTextWhere(urlRe.ReplaceAllString(diag, " "), func(r *textRule) bool { return over[r.reason] })
			if r != nil {
				// "5.1.1" over a text that plainly says something else (a
				// local delivery program failed, the recipient's filter
				// refused, relaying was denied): the code is the MTA's
				// default for any refusal of the recipient.
				return r.reasonOf(temp), "text-" + r.name + "+over-status-" + status
			}
		}
		return st.reason, "status-" + status
	}
	r := matchText(diag)
	if r != nil && !r.catchAll {
		return r.reasonOf(temp), "text-" + r.name
	}
	if known {
		return st.reason, "status-" + status
	}
	if r != nil {
		return r.reasonOf(temp), "text-" + r.name
	}
	if reason, ok := replyCodeReason[code]; ok {
		return reason, "code-" + strconv.Itoa(code)
	}
	return ReasonUnknown, "none"
}

// replyCodeReason reads a permanent reply code that says whom it blames
// when nothing else does (RFC 5321 s4.2.2-4.2.3): the sending side's
// syntax or sequence (500-504, 555), its authentication (530, 535), and a
// transaction refused outright (554: "Transaction failed", or "No SMTP
// service here" at the greeting), which servers send for blocklist and
// policy refusals.
var replyCodeReason = map[int]Reason{
	500: SyntaxError, 501: SyntaxError, 502: SyntaxError, 503: SyntaxError, 504: SyntaxError, 555: SyntaxError,
	530: SecurityError, 535: SecurityError,
	554: Policy,
}

func isWeakStatusRule(rule, status string) bool {
	st, ok := statusEntry(status)
	return strings.HasPrefix(rule, "status-") && (!ok || !st.strong)
}

// overridesStatus lists, for the reason of a strong status code, the
// reasons whose phrases are specific enough to beat it.
var overridesStatus = map[Reason]map[Reason]bool{
	UserUnknown: overridesDeadStatus, DomainUnknown: overridesDeadStatus, Moved: overridesDeadStatus,
	NotAccept: overridesDeadStatus,
	// "550 5.2.1 <a@b>... User Unknown": X.2.1 is many MTAs' code for any
	// refused mailbox; the words say which (both are hard).
	Disabled: withReason(overridesDeadStatus, UserUnknown),
	// "552 5.2.2 Submission quota exceeded" is the sender's quota.
	MailboxFull: {RateLimited: true},
}

func withReason(m map[Reason]bool, r Reason) map[Reason]bool {
	out := map[Reason]bool{r: true}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// overridesDeadStatus are the reasons whose phrases are specific enough
// to beat an address-dead status code.
var overridesDeadStatus = map[Reason]bool{
	MailerError: true, Filtered: true, RelayDenied: true, MailboxFull: true,
	IPBlocklisted: true, RejectedSender: true, RateLimited: true, RecipientRate: true,
}

// blamesSender returns the first text rule in a reply that blames the
// sender (its IP or host on a list or blocked, its reputation, DNS,
// authentication, content, address, rate, or a policy), or nil. A bare
// refusal ("access denied", "rejected") or a refused relay blames no one.
func blamesSender(words string) *textRule {
	return matchTextWhere(urlRe.ReplaceAllString(words, " "), func(r *textRule) bool {
		return blameReasons[r.reason] && (!r.catchAll || r.name == "policy" || r.name == "policy-blocked") && r.name != "access-denied"
	})
}

var blameReasons = map[Reason]bool{
	IPBlocklisted: true, BadReputation: true, PTRRequired: true, AuthFailed: true,
	SpamContent: true, Virus: true, RejectedSender: true, RateLimited: true, Policy: true,
}

// repliesAbout reports whether a reply quotes the recipient in angle
// brackets the way servers answer RCPT TO: Postfix "<a@b>: Recipient
// address rejected", Sendmail "<a@b>... User unknown".
func repliesAbout(diag, rcpt string) bool {
	i := strings.Index(lowerASCII(diag), "<"+rcpt+">")
	if i < 0 {
		return false
	}
	rest := diag[i+len(rcpt)+2:]
	return strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "...")
}

// cleanAddress strips an RFC 3464 address type ("rfc822;"), angle brackets
// and quotes, and lower-cases the address.
func cleanAddress(s string) string {
	s = stripType(s)
	s = strings.Trim(s, " \t<>'`()[]:;,.")
	if strings.Count(s, `"`) == 1 || !strings.Contains(s, `"@`) {
		s = strings.Trim(s, `"`) // quotes around the address, not a quoted local part
	}
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
	for i := 0; i < len(s); i++ { // strings.ContainsAny(s, " \t\r\n<>,;"), without making the set each time
		switch s[i] {
		case ' ', '\t', '\r', '\n', '<', '>', ',', ';':
			return false
		}
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
		if typ == "smtp" || typ == "unix" || strings.HasPrefix(typ, "x-") {
			keep := ""
			if typ == "x-unix" {
				keep = "x-unix; " // the mailer-error rule needs to see it
			}
			s = keep + strings.TrimSpace(s[i+1:])
		}
	}
	s = joinFields(s)
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}

// joinFields is strings.Join(strings.Fields(s), " "): s itself when an
// ASCII s is so already, one pass over it otherwise.
func joinFields(s string) string {
	if !isASCII(s) {
		return strings.Join(strings.Fields(s), " ")
	}
	joined := true
	for i := 0; i < len(s) && joined; i++ {
		switch s[i] {
		case '\t', '\n', '\v', '\f', '\r':
			joined = false
		case ' ':
			joined = i > 0 && i < len(s)-1 && s[i+1] != ' '
		}
	}
	if joined {
		return s
	}
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\t', '\n', '\v', '\f', '\r', ' ':
			space = len(b) > 0
		default:
			if space {
				b = append(b, ' ')
				space = false
			}
			b = append(b, c)
		}
	}
	return string(b)
}

var (
	inReplyToRe  = mustFastRe(`(?i)in reply to (end of )?(DATA|RCPT TO|MAIL FROM|RCPT|MAIL|HELO|EHLO|message)\b|after (end of )?(data|rcpt to|mail from|rcpt|mail|helo|ehlo|message)\b|after (the )?(data|rcpt to|mail from) command`)
	transcriptRe = mustFastRe(`(?im)^\s*>>> (DATA|RCPT TO|MAIL FROM|\.)\b.*\n(?:\s*<<< [23]\d\d.*\n)*\s*<<< [45]\d\d`)
)

// commandIn finds which SMTP command the remote server refused, from the
// phrases MTAs put in their reports: Postfix "(in reply to end of DATA
// command)", Exim "after end of data", a Sendmail transcript ">>> DATA" /
// "<<< 550". It returns "DATA", "RCPT", "MAIL", "HELO" or "".
func commandIn(text string) string {
	if m := inReplyToRe.FindStringSubmatch(text); m != nil {
		for _, g := range m[1:] {
			if c := normCommand(g); c != "" {
				return c
			}
		}
	}
	if m := transcriptRe.FindStringSubmatch(text); m != nil {
		return normCommand(m[1])
	}
	return ""
}

func normCommand(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	switch {
	case s == "":
		return ""
	case s == "DATA" || s == "." || s == "MESSAGE":
		return "DATA"
	case strings.HasPrefix(s, "RCPT"):
		return "RCPT"
	case strings.HasPrefix(s, "MAIL"):
		return "MAIL"
	case s == "HELO" || s == "EHLO":
		return "HELO"
	}
	return ""
}

// withoutAddress removes every mention of addr from a diagnostic.
func withoutAddress(diag, addr string) string {
	if addr == "" {
		return diag
	}
	lower := lowerASCII(diag)
	var b strings.Builder
	for {
		i := strings.Index(lower, addr)
		if i < 0 {
			b.WriteString(diag)
			return b.String()
		}
		b.WriteString(diag[:i])
		b.WriteString("ADDRESS")
		diag, lower = diag[i+len(addr):], lower[i+len(addr):]
	}
}

// lowerASCII lower-cases only ASCII letters, so an index found in its
// result is valid in the original string (strings.ToLower may change the
// length of invalid or non-ASCII text).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
