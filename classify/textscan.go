package classify

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Helpers shared by the decoders of plain-text bounces: the human-readable
// reports of Exim, qmail, Postfix, sendmail and their kin, which name each
// failed recipient on a line of its own and quote the remote server's reply
// below it.

// addrRe finds an e-mail address in free text. It is deliberately plain
// (no quoted local parts, no comments): bounce texts print bare addresses.
var addrRe = func() *fastRe {
	f := mustFastRe(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+`)
	f.start = addrStart
	return f
}()

// addrStart is where addrRe's first match can begin: at the run of
// local-part bytes before the first "@", since no run crosses an "@" nor
// any byte outside the class.
func addrStart(s string) int {
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return -1
	}
	i := at
	for i > 0 && isLocalPartByte(s[i-1]) {
		i--
	}
	return i
}

func isLocalPartByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".!#$%&'*+/=?^_{|}~-", c) >= 0
}

// textLines splits a text into lines without their line ends.
func textLines(s string) []string {
	charge(2 * len(s))
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// joinEntries returns the lines that start with an address (a
// recipient's entry in a list of one entry per line), each joined with
// the lines that continue it up to a blank line or the next entry: the
// entry is long, and a relay that rewraps the text at another width
// breaks it.
func joinEntries(lines []string) []string {
	var out []string
	open := false
	for _, l := range lines {
		switch _, _, ok := leadingAddress(l); {
		case strings.TrimSpace(l) == "":
			open = false
		case ok:
			out = append(out, l)
			open = true
		case open:
			out[len(out)-1] += " " + strings.TrimSpace(l)
		}
	}
	return out
}

// clipDiagnostic cuts a diagnostic to maxDiagnostic bytes, at the start
// of a rune.
func clipDiagnostic(s string) string {
	if len(s) <= maxDiagnostic {
		return s
	}
	i := maxDiagnostic
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// indentOf counts the leading blanks of a line, a tab counting as eight.
func indentOf(line string) int {
	n := 0
	for _, c := range line {
		switch c {
		case ' ':
			n++
		case '\t':
			n += 8
		default:
			return n
		}
	}
	return n
}

// leadingAddress reports whether a line starts with an address, bare or in
// <> or "", optionally followed by a colon; it returns the address and the
// rest of the line after it.
func leadingAddress(line string) (addr, rest string, ok bool) {
	s := strings.TrimSpace(line)
	s = strings.TrimLeft(s, "<\"'*- ")
	loc := addrRe.FindStringIndex(s)
	if loc == nil || loc[0] != 0 {
		return "", "", false
	}
	addr = cleanAddress(s[:loc[1]])
	if addr == "" {
		return "", "", false
	}
	rest = strings.TrimLeft(s[loc[1]:], ">\"' ")
	rest = strings.TrimSpace(strings.TrimPrefix(rest, ":"))
	return addr, rest, true
}

// addressesIn returns the distinct addresses in a text, lower-cased, in order.
func addressesIn(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrRe.FindAllString(s, 32) {
		a = cleanAddress(a)
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// markers compiles phrases that open or close a section of a report into
// one case-insensitive pattern in which any run of white space matches any
// other, since reports wrap their sentences where they like.
func markers(phrases ...string) *fastRe {
	alts := make([]string, len(phrases))
	for i, p := range phrases {
		alts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	f := mustFastRe(`(?i)` + strings.Join(alts, "|"))
	f.phrases = newFoldPhrases(phrases)
	return f
}

// cutAt returns s up to the first of the markers (matched
// case-insensitively), or all of s.
func cutAt(s string, marks ...string) string {
	charge(len(s) * (1 + len(marks)))
	lower := strings.ToLower(s)
	end := len(s)
	for _, mk := range marks {
		if i := strings.Index(lower, strings.ToLower(mk)); i >= 0 && i < end {
			end = i
		}
	}
	return s[:end]
}

// cutAtRe returns s up to the first match of re, or all of s.
func cutAtRe(s string, re *fastRe) string {
	if loc := re.FindStringIndex(s); loc != nil {
		return s[:loc[0]]
	}
	return s
}

// afterRe returns the text after the first match of re, and whether there
// was one.
func afterRe(s string, re *fastRe) (string, bool) {
	if loc := re.FindStringIndex(s); loc != nil {
		return s[loc[1]:], true
	}
	return s, false
}

// replyStartRe finds the start of an SMTP reply (RFC 5321 s4.2) in a
// report line: a reply code, or an enhanced status code on its own.
var replyStartRe = mustFastRe(`(?:^|[\s:\[(])([245]\d\d[ \-][^\n]*|[245]\.\d{1,3}\.\d{1,3}\s[^\n]*)`)

// joinReply folds the lines of a multi-line SMTP reply into one line,
// dropping the repeated "550-" and "550-5.7.1 " prefixes of continuation
// lines so the diagnostic reads as the server's sentence.
func joinReply(lines []string) string {
	var b strings.Builder
	prefix := ""
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if i > 0 && prefix != "" && len(l) >= 4 && strings.HasPrefix(l, prefix[:3]) && (l[3] == '-' || l[3] == ' ') {
			l = strings.TrimSpace(l[4:])
			if st := prefix[4:]; st != "" && strings.HasPrefix(l, st) {
				l = strings.TrimSpace(l[len(st):])
			}
		} else if prefix == "" && len(l) >= 4 && isReplyCode(l[:3]) && (l[3] == '-' || l[3] == ' ') {
			prefix = l[:4]
			if st := parseStatus(firstField(l[4:])); st != "" {
				prefix += firstField(l[4:])
			}
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func isReplyCode(s string) bool {
	return len(s) == 3 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

// replyIn returns the SMTP reply quoted in a report's text, from its code
// to the end, or "" when the text quotes none.
func replyIn(s string) string {
	if i := replyIndex(s); i >= 0 {
		return strings.TrimSpace(s[i:])
	}
	return ""
}

// replyIndex returns where replyStartRe's group, the reply, first matches
// in s, or -1. It does what the regexp does, without the regexp engine,
// which tries the pattern at every byte (it has no literal to skip to) and
// on a long text costs a hundred times a scan: a reply at the start of s,
// or after the first blank, colon or opening bracket that one follows.
func replyIndex(s string) int {
	charge(len(s))
	if replyAt(s, 0) {
		return 0
	}
	for p := 0; p+1 < len(s); p++ {
		switch s[p] {
		case ' ', '\t', '\n', '\f', '\r', ':', '[', '(':
			if replyAt(s, p+1) {
				return p + 1
			}
		}
	}
	return -1
}

// replyAt reports whether replyStartRe's group matches at s[q:]: a reply
// code and a blank or hyphen, or an enhanced status code and white space.
func replyAt(s string, q int) bool {
	if q+3 >= len(s) || s[q] != '2' && s[q] != '4' && s[q] != '5' {
		return false
	}
	if isDigit(s[q+1]) && isDigit(s[q+2]) && (s[q+3] == ' ' || s[q+3] == '-') {
		return true
	}
	if s[q+1] != '.' {
		return false
	}
	// Each \d{1,3} takes the whole run of digits: a shorter one is
	// followed by a digit, not by what the pattern wants next.
	j := digitsFrom(s, q+2)
	if n := j - (q + 2); n < 1 || n > 3 || j >= len(s) || s[j] != '.' {
		return false
	}
	k := digitsFrom(s, j+1)
	return k-(j+1) >= 1 && k-(j+1) <= 3 && k < len(s) && isRESpace(s[k])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// An smtpStage is the SMTP command a remote server answered with its
// error. Reports of most MTAs name it ("after RCPT TO", "in reply to
// end of DATA command", "did not like our MAIL FROM"), and it says whom the
// error concerns: nothing can be wrong with the recipient's address before
// it was given, and a server that accepted RCPT TO knew the address.
type smtpStage int

const (
	stageUnknown smtpStage = iota
	stageConnect           // the greeting or the connection itself
	stageHelo
	stageMail
	stageRcpt
	stageData
)

var stageRe = mustFastRe(`(?i)` +
	`(after initial connection|after connection|greeting (?:failed|was rejected)|in reply to (?:the )?(?:initial )?greeting|but greeting failed)` +
	`|(after [eh]lo\b|in reply to [eh]lo\b|my name was rejected|did not like our [eh]lo\b|>>> [eh]lo\b)` +
	`|(after mail from|in reply to mail from|sender was rejected|did not like our mail from|>>> mail from|after mail command)` +
	`|(after rcpt to|in reply to rcpt to|does not like recipient|did not like our rcpt to|>>> rcpt to|rcpt to response|after rcpt command)` +
	`|(after (?:end of )?data|in reply to (?:end of )?data|failed after i sent the message|did not like our (?:final )?data|>>> data|after sending (?:the )?message|\(data\)|for text command)`)

// stageOf finds the first SMTP stage a report names.
func stageOf(s string) smtpStage {
	m := stageRe.FindStringSubmatchIndex(s)
	if m == nil {
		return stageUnknown
	}
	for g := 1; g <= 5; g++ {
		if m[2*g] >= 0 {
			return smtpStage(g)
		}
	}
	return stageUnknown
}

// decideStaged is decide, told the SMTP stage, followed by what the stage
// and the sender named in the reply say about whom a rejection concerns.
// An address-dead verdict is kept only where the reply can be about the
// recipient: nothing can be wrong with the address when the connection or
// MAIL FROM was refused, and a reply that quotes only the sender's address
// or domain complains about the sender. (A "user unknown" at DATA is
// still the address's: words that say it does not exist are believed at
// any stage, see decide.)
func decideStaged(name string, f finding, st smtpStage, senders []string) Verdict {
	if f.command == "" {
		f.command = st.command()
	}
	v := decide(name, f)
	if f.reason != "" {
		return v
	}
	switch {
	case (st == stageConnect || st == stageHelo) && v.Class == Hard:
		f.reason, f.rule = Policy, "stage-connect"
	case st == stageMail && (v.Class == Hard || v.Class == Unknown):
		f.reason, f.rule = RejectedSender, "stage-mail-from"
	case (v.Class == Hard || v.Reason == UserUnknown || v.Reason == Filtered) && namesOnlySender(v.Diagnostic, senders, v.Recipient):
		f.reason, f.rule = RejectedSender, "reply-names-sender"
	case st == stageData && (v.Class == Hard || v.Reason == Filtered) && isWeakStatusRule(v.Evidence.Rule, v.Status):
		// After DATA the address had been accepted; a broad status code
		// alone does not make it dead, nor (X.2.0, "something about the
		// mailbox") say the recipient's side refused. What the text says
		// decides: the message itself was refused.
		r := matchText(v.Diagnostic)
		if r == nil || ClassOf(r.reason) == Hard {
			return v
		}
		f.reason, f.rule = r.reason, "text-"+r.name+"+after-data"
	default:
		return v
	}
	return decide(name, f)
}

// command returns the SMTP command of a stage in decide's terms.
func (st smtpStage) command() string {
	switch st {
	case stageHelo:
		return "HELO"
	case stageMail:
		return "MAIL"
	case stageRcpt:
		return "RCPT"
	case stageData:
		return "DATA"
	}
	return ""
}

// namesOnlySender reports whether a reply quotes the sender's address or
// domain and neither the recipient's address nor its domain: the server
// complains about the sender ("<a@sender.example>... Domain is invalid",
// "sender.example does not exist").
func namesOnlySender(diag string, senders []string, rcpt string) bool {
	lower := urlRe.ReplaceAllString(strings.ToLower(diag), " ") // a help link names any domain
	if rcpt == "" || strings.Contains(lower, rcpt) || containsWord(lower, domainOf(rcpt)) {
		return false
	}
	for _, s := range senders {
		if s != "" && (strings.Contains(lower, s) || containsWord(lower, domainOf(s))) {
			return true
		}
	}
	return false
}

var urlRe = mustFastRe(`(?:https?|ftp)://\S+`)

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// containsWord reports whether s contains w not as part of a longer
// host name or word.
func containsWord(s, w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !isHostByte(s[j-1])) && (end == len(s) || !isHostByte(s[end]) || s[end] == '.' && (end+1 == len(s) || !isHostByte(s[end+1]))) {
			return true
		}
		i = j + 1
	}
	return false
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '@' || c == '_'
}

// senderAddresses returns the addresses that stand for the original sender:
// the bounce's own To (a bounce goes back to the sender) and the MAIL FROM
// a report quotes.
func senderAddresses(m *message, text string) []string {
	var out []string
	if a := firstAddress(m.get("To")); a != "" {
		out = append(out, a)
	}
	for _, mm := range mailFromRe.FindAllStringSubmatch(text, 4) {
		if a := cleanAddress(mm[1]); a != "" {
			out = append(out, a)
		}
	}
	return out
}

var mailFromRe = mustFastRe(`(?i)mail from:\s*<([^>\s]+)>`)

// remoteHostRe finds the remote host a report names: "host mx.example.org
// [192.0.2.1]", "host: mx.example.org", "mx.example.org[192.0.2.1] said".
var remoteHostRe = mustFastRe(`(?i)\bhost:?\s+([a-z0-9][a-z0-9.\-]*[a-z0-9])\s*(\[[0-9a-f.:]+\])?`)

func remoteHostIn(s string) string {
	if m := remoteHostRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// failedRecipientsHeader returns the addresses of X-Failed-Recipients
// (set by Exim and by many hosted MTAs that copied it).
func failedRecipientsHeader(m *message) []string {
	var out []string
	for _, v := range m.header.Values("X-Failed-Recipients") {
		out = append(out, addressesIn(v)...)
	}
	return out
}

// subjectBounceRe matches the subjects MTAs give their bounces.
var subjectBounceRe = mustFastRe(`(?i)undeliver|returned mail|returning message|delivery status notification|failure notice|mail delivery failed|delivery fail|failed delivery|failure delivery|not delivered|could not be delivered|non.?deliver|delivery (problem|error|report)|mail system error|returned to sender|rejected mail|message delayed|delayed mail|warning: message`)

// looksLikeBounce reports whether a message carries a sign of being a
// bounce: a mail-system sender, a bounce subject, or X-Failed-Recipients.
// Replies and forwards of a bounce ("Re: Undeliverable: ...") do not count.
func looksLikeBounce(m *message) bool {
	if m.get("X-Failed-Recipients") != "" {
		return true
	}
	subj := m.get("Subject")
	if replyPrefixRe.MatchString(subj) {
		return false
	}
	return looksLikeBounceSender(m) || subjectBounceRe.MatchString(subj)
}

var replyPrefixRe = mustFastRe(`(?i)^\s*(re|fwd?|aw|wg|sv|tr|rv)\s*:`)

// delayWarningRe matches the sentences of a warning that delivery is
// still being retried (RFC 3464 Action: delayed in words).
var delayWarningRe = mustFastRe(`(?i)has not yet been delivered|not been delivered yet|will (continue to )?(be )?retr(y|ied)|delivery attempts will continue|this is a warning message only|still trying|will keep trying|no action is required on your part|will continue (to try|trying)|(has been|was) postponed`)
