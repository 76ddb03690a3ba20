package classify

import (
	"strings"
)

// The auto-reply decoder recognises vacation and out-of-office replies and
// challenge-response requests (RFC 3834). It runs after every bounce
// decoder, and it never takes a delivery report: real DSNs carry
// Auto-Submitted: auto-replied too (Postfix's do), so that header counts
// only together with the absence of any report structure or bounce sender.
// The recipient is the one who replied (From), or the VERP tag.
func init() {
	register(decoder{name: "autoreply", order: orderAutoReply, decode: decodeAutoReply})
}

var (
	autoSubjectRe = mustFastRe(`(?i)out of (the )?office|\booo\b|auto(matic|matische|matisk|matique)?[ -]?(reply|response|responder|antwort|svar|réponse)|auto:|autoreply|autoresponse|vacation|away (from|until)|on (leave|holiday|vacation)|abwesenheit|absence|abwesend|réponse automatique|respuesta automática|fuera de la oficina|risposta automatica|fuori sede|automatisch antwoord|afwezig|não estou|resposta automática|nieobecność|不在|自動返信|自動応答|自动回复|부재`)
	challengeRe   = mustFastRe(`(?i)please confirm (that )?you|confirm your (e-?mail|message)|sender verification|anti-?spam (verification|confirmation)|one-time verification|verify your (e-?mail )?address|(guest|waiting) list|` + challengePattern)
	// challengeText is a challenge in the words of the text rules, which
	// no bounce uses for anything else.
	challengeText = mustFastRe(`(?i)` + challengePattern)
	movedHintRe   = mustFastRe(`(?i)no longer (in use|used|valid|active|with|at|monitored|working)|(new|changed) (e-?mail )?address|has changed (my|our|his|her) (e-?mail )?address|left the company|no longer employed|please (update|use|contact|write to)|moved to`)
)

func decodeAutoReply(m *message) []Verdict {
	if isReport(m) {
		return nil
	}
	subject := decodeWord(m.get("Subject"))
	if looksLikeBounceSender(m) && !challengeRe.MatchString(subject) && !challengeText.MatchString(limitString(m.text, 1024)) {
		// A mail system's message, unless it asks the sender to prove
		// itself: some challenge-response systems send as postmaster.
		return nil
	}
	auto := strings.ToLower(m.get("Auto-Submitted"))
	rule := ""
	switch {
	case m.get("X-Autoreply") != "" || m.get("X-Autorespond") != "" || m.get("X-Autoresponder") != "":
		rule = "x-autoreply"
	case strings.EqualFold(m.get("X-Apple-Action"), "vacation") || strings.Contains(strings.ToLower(m.get("X-Apple-Criteria")), "vacation"):
		rule = "x-apple-vacation"
	case strings.Contains(strings.ToLower(m.get("Precedence")), "auto_reply"):
		rule = "precedence-auto-reply"
	case strings.HasPrefix(auto, "auto-replied"):
		rule = "auto-submitted"
	case autoSubjectRe.MatchString(subject):
		rule = "subject"
	case challengeRe.MatchString(subject) || challengeRe.MatchString(limitString(m.text, 4096)):
		rule = "challenge-response"
	default:
		return nil
	}
	from := firstAddress(m.get("From"))
	rcpt := from
	if looksLikeBounceSender(m) {
		// A challenge sent as the mail system speaks for the address the
		// message was for: the VERP tag names it (finish), else nothing.
		rcpt = ""
	}
	v := Verdict{
		Recipient: rcpt,
		Class:     AutoReply,
		Reason:    Vacation,
		Evidence:  Evidence{Decoder: "autoreply", Rule: rule},
	}
	v.Evidence.Detail = movedHint(limitString(m.text, 8192), from)
	return []Verdict{v}
}

// movedHint keeps what an auto-reply says about the address changing: the
// new address if one is given, else the sentence's keyword.
func movedHint(text, from string) string {
	loc := movedHintRe.FindStringIndex(text)
	if loc == nil {
		return ""
	}
	hint := "address-changed: " + strings.ToLower(text[loc[0]:loc[1]])
	for _, a := range hintAddresses(text, 8) {
		if a = strings.ToLower(a); a != from {
			return hint + "; new-address: " + a
		}
	}
	return hint
}

// hintAddresses returns the first n addresses in s, as the regexp
// [A-Za-z0-9._%+\-=]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,} finds them with
// FindAllString(s, n) (TestHintAddresses holds it to that), without the
// regexp engine, which tries the pattern at every byte of the text: every
// match is the run of local-part bytes before an "@" (no further back than
// the end of the match before) and the domain after it, up to the last dot
// that two letters follow, and those letters.
func hintAddresses(s string, n int) []string {
	charge(len(s))
	var out []string
	from := 0 // where the search for the next match begins
	for at := 0; len(out) < n; {
		i := strings.IndexByte(s[at:], '@')
		if i < 0 {
			break
		}
		i += at
		at = i + 1
		start := i
		for start > from && isHintLocalByte(s[start-1]) {
			start--
		}
		if start == i {
			continue
		}
		if end := hintDomainEnd(s, i+1); end >= 0 {
			out = append(out, s[start:end])
			from, at = end, end
		}
	}
	return out
}

// hintDomainEnd returns the end of [A-Za-z0-9.\-]+\.[A-Za-z]{2,} matched
// at s[i:], or -1: the greedy run gives back bytes until a dot that two
// letters follow, so the dot is the run's last such one.
func hintDomainEnd(s string, i int) int {
	j := i
	for j < len(s) && (isWordByte(s[j]) || s[j] == '.' || s[j] == '-') {
		j++
	}
	for dot := j - 1; dot > i; dot-- {
		if s[dot] != '.' {
			continue
		}
		k := dot + 1
		for k < len(s) && isASCIILetter(s[k]) {
			k++
		}
		if k-dot > 2 {
			return k
		}
	}
	return -1
}

// isHintLocalByte reports a byte of [A-Za-z0-9._%+\-=], the pattern's local part.
func isHintLocalByte(c byte) bool {
	return isWordByte(c) || strings.IndexByte("._%+-=", c) >= 0
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isReport reports whether the message has delivery-report structure.
func isReport(m *message) bool {
	if strings.EqualFold(m.mediaType, "multipart/report") {
		return true
	}
	return len(m.partsOf("message/delivery-status", "message/global-delivery-status", "message/feedback-report")) > 0 ||
		m.get("X-Failed-Recipients") != ""
}

var bounceSenderRe = mustFastRe(`(?i)mailer-daemon|postmaster|mail delivery (sub)?system|mail ?administrator`)

// looksLikeBounceSender reports whether the message comes from a mail
// system rather than a person: a mail system's mailbox, or the null
// address "<>" that some gateways write in From as in the reverse path of
// a bounce (RFC 5321 s4.5.5); a person's From always names a mailbox.
func looksLikeBounceSender(m *message) bool {
	from := m.get("From")
	return bounceSenderRe.MatchString(from) || strings.TrimSpace(from) == "<>"
}

func limitString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
