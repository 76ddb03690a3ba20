package classify

import (
	"strings"
)

// The fallback decoder runs last, on bounces no named format claimed. It
// reads what nearly every human-readable bounce shares: a failed address
// on a line of its own, after words like "could not be delivered to" or
// before words like "... user unknown", and near it the remote server's
// reply. It fires only on a message that says it is a bounce (a
// mail-system sender, a bounce subject, a delivery report's media type or
// X-Failed-Recipients) and only for addresses that stand where a failed
// recipient stands; it never takes the bounce's own From or To, the
// envelope sender a transcript quotes, nor an address of the returned
// message's header, a Received line or a Message-ID.
func init() {
	register(decoder{name: "fallback", order: orderFallback, decode: decodeFallback})
}

var (
	// fbFailureRe: without one of these words a text does not report a failure.
	fbFailureRe = mustFastRe(`(?i)deliver|fail|reject|bounce|refused|denied|unknown|unable|error|blocked|did not reach`)
	// fbOriginal opens the returned message or its header.
	fbOriginal = mustFastRe(`(?im)^[ \t>|-]*(?:-+ ?)?(?:original message|the original message (?:follows|headers?)|below (?:this line )?is (?:a copy of )?the (?:original )?message|this is a copy of the message|(?:un(?:sent|delivered)|returned) message|message headers follow|included is a copy|a copy of the (?:original )?message|(?:your )?message reads \(in part\)|message (?:text|body) follows)|^(?:Received|Return-Path|DKIM-Signature|Message-I[Dd]|MIME-Version|X-[A-Za-z0-9-]+): `)
	// fbSentenceRe: the sentences with which bounces say what they are.
	fbSentenceRe = mustFastRe(`(?i)could ?n[o']t be (?:delivered|reached)|undeliverable|delivery (?:has |to .{1,80} )?failed|permanent (?:error|failure|fatal)|delivery status notification|following (?:address|recipient)|returned to (?:the )?sender|unable to deliver|mailer-daemon|did ?n[o']t reach|not (?:be )?delivered|delivery (?:problem|failure)s?|failed recipient`)
	// fbQuotedHeaderRe: a line quoting a header of the original message.
	fbQuotedHeaderRe = mustFastRe(`(?i)^\s*(from|to|cc|bcc|reply-to|sender|return-path|envelope-from|message-id|in-reply-to|references|x-[a-z-]+)\s*:`)
	// fbLeadRe: words that put a failed address after them on a line.
	fbLeadRe = mustFastRe(`(?i)(?:(?:deliver(?:ed|y)?|sent|send|failed|undeliverable|rejected|refused|unknown|bounced|recipients?|address(?:es|\(es\))?|user(?:id)?|mailbox|mail|message|errors?|for)\s*(?:to|for|at)?\s*:?|^[245]\d\d(?:[ -][245]\.\d{1,3}\.\d{1,3})?)\s*["<(\[]?(?:smtp:)?$`)
	// fbNearLeadRe: a failure phrase a little before an address on its
	// line ("Delivery failed 20 attempts: a@b", "did not reach the
	// following recipient: a@b", "User's mailbox is full: <a@b>",
	// "addressed to 'a@b'", "(originally addressed to a@b)"). It is run
	// on the few bytes before each address, never on a whole text.
	fbNearLeadRe = mustFastRe(`(?i)(?:fail(?:ed|ure|s)?|undeliverable|undelivered|could ?n[o']t (?:be )?(?:delivered|sent|reach(?:ed)?)|did ?n[o']t (?:reach|receive)|not (?:be )?delivered|unable to (?:deliver|reach)|can ?not be reached|unknown|no such|invalid|not found|rejected|refused|bounced|returned|mailbox|quota|\bfull|addressed|generated from|expanded from|originally|original (?:address|recipient)|recipient(?:\(s\)|s)?|problems?|delivery to)\b[^@\n,;!?]{0,40}$`)
	// fbAfterRe: a failure the words right after an address report
	// ("a@b ... unknown host", "a@b - no such user here", "'a@b',
	// failed because", "a@b, did not exactly match").
	fbAfterRe = mustFastRe(`(?i)^(?:\.\.\.|-+|,|:|;|\()?\s*(?:(?:user|mailbox|address|recipient|account|host)\s+)?(?:unknown|no such|not (?:found|known|listed|valid|exist|reachable|local)|does ?n[o']t exist|do(?:es)? not have|failed|fail(?:ure)?s?\b|undeliverable|invalid|rejected|refused|is (?:full|over|not|unknown|invalid|disabled|inactive|unavailable)|has (?:been )?(?:disabled|suspended|moved|expired)|over quota|quota|did ?n[o']t|could ?n[o']t|was not|unable|mailbox (?:full|unavailable|not found)|unavailable|user not|deferred|error)`)
	// fbFromRe: an address after "from" is a sender ("not accepting mail
	// from a@b", "received from a@b"), unless an alias was expanded from it.
	fbFromRe = mustFastRe(`(?i)(?:^|[^a-z])(?:from|by)\s*:?\s*["<(\[]?$`)
	// fbAliasRe: words that say an address is another's original form.
	fbAliasRe    = mustFastRe(`(?i)(?:generated|expanded|forwarded)\s+from\s*:?\s*["<(\[]?$|originally(?: addressed)?(?: to)?\s*:?\s*["<(\[]?$|original (?:address|recipient)\s*:?\s*["<(\[]?$`)
	fbExpandedRe = mustFastRe(`(?i)(?:generated|expanded|forwarded)\s+from\s*:?\s*["<(\[]?$`)
	// fbListIntroRe: a sentence that announces a list of failed addresses.
	fbListIntroRe = mustFastRe(`(?i)(recipient|address|deliver|fail|did ?n[o']t (?:reach|receive)|unknown|following).*:\s*$`)
)

func decodeFallback(m *message) []Verdict {
	if !fbLooksLikeBounce(m) || !m.textMatches(fbFailureRe) && !fbFailureRe.MatchString(m.get("Subject")) {
		return nil
	}
	// A bounce subject alone, from what may be a person, needs the text
	// to read as a bounce too and its addresses to come with a reply or
	// stand where a failed address stands.
	strong := m.get("X-Failed-Recipients") != "" || looksLikeBounceSender(m) || nullReturnPath(m) || isDeliveryReport(m) || daemonReturnPath(m)
	if !strong && !m.textMatches(fbSentenceRe) && !subjectNamesFailure(m) {
		return nil
	}
	text := m.text
	if loc := fbOriginal.FindStringIndex(text); loc != nil && loc[0] > 0 {
		text = text[:loc[0]]
	}
	senders := senderAddresses(m, text)
	exclude := fbOwnAddresses(m)
	for _, s := range senders {
		exclude[s] = true // the envelope sender a transcript quotes
	}
	action := "failed"
	if delayWarningRe.MatchString(text) || strings.Contains(strings.ToLower(m.get("Subject")), "delay") {
		action = "delayed"
	}

	var out []Verdict
	seen := map[string]bool{}
	// add records a failed address; placed says it stands where a failed
	// address stands (after a failure phrase, before one, or in a list a
	// failure sentence announced), which is enough without a reply code.
	add := func(addr, diag string, placed bool) {
		if addr == "" || exclude[addr] || seen[addr] || len(out) >= 32 {
			return
		}
		if !strong && !placed && replyCodeInText(diag) == 0 && parseStatus(diag) == "" {
			return
		}
		seen[addr] = true
		f := finding{recipient: addr, action: action, diagnostic: diag, remoteMTA: remoteHostIn(diag)}
		out = append(out, decideStaged("fallback", f, stageOf(diag), senders))
	}
	reply, replyRead := "", false // the text's first reply, read once for all addresses
	for _, a := range failedRecipientsHeader(m) {
		if a == "" || exclude[a] || seen[a] {
			continue // add would not take it: no need to look for its explanation
		}
		if len(out) >= 32 {
			break
		}
		why := textNear(text, a)
		if why != "" {
			why = strings.Join(strings.Fields(why), " ")
			if replyIndex(why) < 0 {
				if r := fbReplyAfterMention(text, a); r != "" {
					why = r
				}
			}
		} else {
			if !replyRead {
				reply, replyRead = fbFirstReply(text), true
			}
			why = reply
		}
		add(a, why, true)
	}
	if len(out) > 0 {
		return out
	}
	lines := textLines(text)
	fbScanLines(lines, func(addr string) bool { return exclude[addr] || seen[addr] }, func() int { return len(out) }, add)
	if len(out) == 0 {
		out = fbLocalParts(m, lines, action, senders)
	}
	if len(out) == 0 {
		if a, diag := fbSummaryTo(m, lines); a != "" && !exclude[a] {
			add(a, diag, true)
		}
	}
	if len(out) == 1 && out[0].SMTPCode == 0 && out[0].Status == "" {
		// One failed address, explained in the bounce's own words ("wasn't
		// delivered to a@b because the address couldn't be found"), and
		// the remote server's reply quoted further down ("The response
		// from the remote server was:"): the reply is the evidence.
		// Only a whole reply, its code first, counts: a bare status code in
		// the bounce's prose is a summary, not the server's answer.
		if r := replyIn(text); r != "" && replyCodeInText(r) != 0 {
			diag := firstParagraph(r)
			f := finding{recipient: out[0].Recipient, action: action, diagnostic: diag, remoteMTA: remoteHostIn(diag)}
			out[0] = decideStaged("fallback", f, stageOf(diag), senders)
		}
	}
	return out
}

// fbScanLines reads the lines for failed addresses and hands each to add
// with its explanation, and whether it stands where a failed address
// stands. skip says which addresses are not to be read again (the
// bounce's own, those already added); count how many add has taken.
func fbScanLines(lines []string, skip func(string) bool, count func() int, add func(addr, diag string, placed bool)) {
	intro := false // the previous paragraph announced a list
	// Addresses listed with nothing beside them: the explanation, if the
	// bounce gives one, is the paragraph after the list (Sendmail-like
	// "addresses had delivery problems" lists, James's "Failed
	// recipient(s):"), shared by all of them.
	var unexplained []string
	lastListed := 0
	own := map[string]string{} // the words beside an unexplained address
	lastDiag := ""             // the explanation of the address found last
	prev := ""                 // the line before, "" after a blank line
	placed := 0                // the addresses whose place was read: a few patterns each
	for i, line := range lines {
		if count()+len(unexplained) >= 32 || placed >= 256 {
			break // as many as one bounce reports; the rest would cost time
		}
		t := strings.TrimSpace(line)
		if t == "" {
			prev = ""
			continue
		}
		if fbQuotedHeaderRe.MatchString(t) {
			intro, prev = false, ""
			continue
		}
		for _, loc := range addrRe.FindAllStringIndex(t, 8) {
			addr := cleanAddress(t[loc[0]:loc[1]])
			if addr == "" || skip(addr) {
				continue
			}
			placed++
			next := ""
			if i+1 < len(lines) {
				next = strings.TrimSpace(lines[i+1])
			}
			p := placeAddress(t, loc, addr, prev, next, intro)
			if !p.listed && !p.led && !p.followed {
				continue
			}
			before, afterAddr, tail, alone, led, followed := p.before, p.after, p.tail, p.alone, p.led, p.followed
			diag := fbDiagnostic(addr, afterAddr, lines[i+1:])
			if strings.HasSuffix(diag, ":") {
				// "... for the following reason:": the reason follows.
				diag = strings.TrimSpace(diag + " " + fbAfterList(lines[i+1+fbParagraphLen(lines[i+1:]):]))
			} else if diag != "" && replyIndex(diag) < 0 {
				// The reporting MTA's words; the remote server's own reply,
				// which outranks them, may follow in a paragraph of its own.
				if r := fbReplyBelow(lines[i+1+fbParagraphLen(lines[i+1:]):]); r != "" {
					diag = r
				}
			}
			if led && fbAliasRe.MatchString(tail) && lastDiag != "" {
				// "(expanded from: a@b)", "(originally addressed to a@b)":
				// the address the sender used, of the address just read.
				add(addr, lastDiag, true)
				continue
			}
			words := ""
			if led && !alone {
				// The words before the address may be the explanation
				// ("User's mailbox is full: <a@b>").
				words = strings.Trim(before, `<"'([: `)
			}
			if diag == "" {
				if _, listed := own[addr]; !listed { // a list repeated in a second language
					unexplained, lastListed = append(unexplained, addr), i
					own[addr] = words
				}
				continue
			}
			if words != "" && replyCodeInText(diag) == 0 && matchText(diag) == nil {
				diag = words + " " + diag
			}
			lastDiag = diag
			add(addr, diag, intro || led || followed)
		}
		intro = strings.HasSuffix(t, ":") && fbListIntroRe.MatchString(sentenceEndingAt(lines, i)) ||
			isRuler(t) && fbListIntroRe.MatchString(strings.Trim(t, "-=*| ")+":") || // "--- The following addresses had delivery problems ---"
			intro && addrRe.MatchString(t)
		prev = t
	}
	if len(unexplained) > 0 {
		why := fbAfterList(lines[lastListed+1:])
		for _, a := range unexplained {
			d := why
			if w := own[a]; w != "" && (d == "" || matchText(d) == nil && replyCodeInText(d) == 0) {
				d = strings.TrimSpace(w + " " + d)
			}
			add(a, d, true)
		}
	}
}

// fbPlacement says where an address stands on its line.
type fbPlacement struct {
	before, after string // the line's words before and after the address
	tail          string // the last words before it, from the line above when it ends a sentence there
	alone         bool   // it leads its line
	listed        bool   // in a list: alone, after a list's intro, or with a reply or a colon after it
	led           bool   // after a failure phrase ("could not be delivered to a@b")
	followed      bool   // before one ("a@b ... unknown host")
}

// placeAddress reads the words around the address found at loc in the
// trimmed line t; prev is the line above ("" after a blank line), next
// the line below, intro whether the paragraph above announced a list.
func placeAddress(t string, loc []int, addr, prev, next string, intro bool) fbPlacement {
	p := fbPlacement{
		before: strings.TrimSpace(t[:loc[0]]),
		after:  strings.TrimSpace(strings.TrimLeft(t[loc[1]:], `>"')]`)),
	}
	p.alone = strings.Trim(p.before, `<"'*-•([> `) == ""
	// An address that leads a line continuing a sentence ends that
	// sentence ("could not be delivered to" / "a@b"): the words before it
	// are on the line above.
	midSentence := p.alone && prev != "" && continuesSentence(prev)
	near := p.before[max(0, len(p.before)-100):]
	if midSentence {
		near = prev[max(0, len(prev)-100):] + " " + p.before
	}
	after := p.after
	p.listed = p.alone && !midSentence && (intro || after == "" || strings.HasPrefix(after, ":") || replyIn(after) != "" || strings.HasPrefix(after, "[") || sameAddress(after, addr))
	// The patterns end at the address: only the last bytes before it can
	// match them.
	p.tail = near[max(0, len(near)-90):]
	// fbNearLeadRe's phrase and the words after it hold none of "@,;!?":
	// its match starts after the last of them.
	clause := p.tail[strings.LastIndexAny(p.tail, "@,;!?\n")+1:]
	p.led = (fbLeadRe.MatchString(p.tail[max(0, len(p.tail)-40):]) || fbNearLeadRe.MatchString(clause)) &&
		(!fbFromRe.MatchString(p.tail) || fbExpandedRe.MatchString(p.tail))
	// Words after the address report its failure only where it stands as
	// the subject of the sentence: first on its line, or after a failure
	// phrase and a comma ("addressed, a@b, did not match"), not in prose
	// ("if a@b fails, try c@d").
	if !p.alone && strings.Trim(after, ",;") == "" && next != "" {
		// An address that ends its line mid-sentence ("addressed,
		// a@b," / "did not match"): its words are on the line below.
		after = strings.TrimSpace(after + " " + next)
	}
	p.followed = fbAfterRe.MatchString(after[:min(len(after), 100)]) &&
		(p.alone && !midSentence || strings.HasSuffix(near, ",") && fbNearLeadRe.MatchString(strings.TrimSuffix(near, ","))) ||
		// A reply on the same line that names the address again refuses it
		// ("<a@b> : mx.example.org : 550 5.1.1 <a@b>... User Unknown").
		repliesAbout(replyIn(after), addr)
	return p
}

// sentenceEndingAt returns line i, trimmed, with the lines above it that
// its sentence began on (at most three, each ending mid-sentence): a
// list's lead ("... could not be delivered to the following" / "user:")
// reads the same whatever width the text was wrapped at.
func sentenceEndingAt(lines []string, i int) string {
	s := strings.TrimSpace(lines[i])
	for j := i - 1; j >= 0 && j >= i-3; j-- {
		p := strings.TrimSpace(lines[j])
		if p == "" || !continuesSentence(p) || isRuler(p) {
			break
		}
		s = p + " " + s
	}
	return s
}

// continuesSentence reports whether a line ends in the middle of a
// sentence: on a word or a comma, not on a colon, a full stop or a ruler.
func continuesSentence(line string) bool {
	c := line[len(line)-1]
	return c == ',' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isRuler reports whether a line opens a section ("----- Transcript of
// session follows -----", "|---- Message log follows: ----|", "=====").
func isRuler(t string) bool {
	return strings.HasPrefix(t, "---") || strings.HasPrefix(t, "|--") || strings.HasPrefix(t, "===") || strings.HasPrefix(t, "***")
}

// fbParagraphLen counts the lines up to the first blank one, as far as
// fbDiagnostic reads: never the rest of a text without blank lines.
func fbParagraphLen(lines []string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) == "" || i > 12 {
			return i
		}
	}
	return len(lines)
}

// sameAddress reports whether s is the address again, in <> or quotes
// (`"a@b" <a@b>`).
func sameAddress(s, addr string) bool {
	return strings.Trim(s, `<>"' `) != "" && cleanAddress(s) == addr
}

// fbLooksLikeBounce is looksLikeBounce, or a delivery report by its media
// type (RFC 3462) whose report part the DSN decoder could not read.
func fbLooksLikeBounce(m *message) bool {
	return looksLikeBounce(m) || isDeliveryReport(m) || daemonReturnPath(m) || subjectNamesFailure(m)
}

// subjectNamesFailure reports whether the subject names why a delivery
// failed ("Warning: a@b - User unknown!"), as only a bounce's does.
func subjectNamesFailure(m *message) bool {
	subj := m.get("Subject")
	if subj == "" || replyPrefixRe.MatchString(subj) {
		return false
	}
	r := matchText(subj)
	return r != nil && !r.catchAll && ClassOf(r.reason) != Block
}

// isDeliveryReport reports whether the message is a multipart/report of
// report-type delivery-status (RFC 3462, RFC 3464).
func isDeliveryReport(m *message) bool {
	return m.mediaType == "multipart/report" && strings.EqualFold(m.params["report-type"], "delivery-status")
}

// daemonReturnPath reports whether the message came back from a
// mail-system address, which some relays put in Return-Path instead of
// the null reverse path.
func daemonReturnPath(m *message) bool {
	rp := m.get("Return-Path")
	return rp != "" && bounceSenderRe.MatchString(rp)
}

// fbAfterList returns the explanation that follows a list of failed
// addresses: past blank lines and "----- ... -----" rulers, what
// fbDiagnostic reads below an address.
func fbAfterList(below []string) string {
	var parts []string
	for i := 0; i < len(below) && len(parts) < 4; i++ {
		t := strings.TrimSpace(below[i])
		if t == "" || strings.Trim(t, "-=*_ ") == "" || strings.HasPrefix(t, "---") {
			continue
		}
		p := fbDiagnostic("", "", below[i:])
		parts = append(parts, p)
		if !strings.HasSuffix(p, ":") {
			break // "The problem appears to be:" is followed by the problem
		}
		i += fbParagraphLen(below[i:])
	}
	return strings.Join(parts, " ")
}

// fbOwnAddresses are the addresses that cannot be the failed recipient:
// the bounce's own sender and recipients, the envelope it came to.
func fbOwnAddresses(m *message) map[string]bool {
	out := map[string]bool{}
	for _, k := range []string{"From", "To", "Cc", "Reply-To", "Sender", "Return-Path", "Delivered-To", "Errors-To"} {
		for _, v := range m.header.Values(k) {
			for _, a := range addressesIn(decodeWord(v)) {
				out[a] = true
			}
		}
	}
	if a := cleanAddress(m.in.EnvelopeRecipient); a != "" {
		out[a] = true
	}
	return out
}

// fbDiagnostic returns what follows a failed address: the rest of its line
// and the lines below it, up to a blank line or the next address line,
// starting at the SMTP reply if they quote one.
func fbDiagnostic(addr, rest string, below []string) string {
	rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
	parts := []string{rest}
	for _, l := range below {
		t := strings.TrimSpace(l)
		if t == "" || fbQuotedHeaderRe.MatchString(t) {
			break
		}
		if a, _, ok := leadingAddress(t); ok && a != addr || isRuler(t) {
			break
		}
		parts = append(parts, t)
		if len(parts) > 12 {
			break
		}
	}
	text := strings.Join(parts, "\n")
	if r := replyIn(text); r != "" {
		return joinReply(textLines(r))
	}
	return strings.Join(strings.Fields(text), " ")
}

// fbReplyBelow returns the remote server's reply that the paragraphs
// below an address's explanation quote after a lead of their own ("The
// response from the remote server was:" / "501 5.1.8 Sender address
// rejected", "The error that the other server returned was:"), or "". It
// reads a few lines only, and stops at the next address.
func fbReplyBelow(below []string) string {
	lead := false // the line above ends in a colon
	for i, l := range below {
		if i > 16 {
			break
		}
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if lead && replyAt(t, 0) {
			return joinReply(textLines(strings.Join(below[i:i+fbParagraphLen(below[i:])], "\n")))
		}
		if _, _, ok := leadingAddress(t); ok || isRuler(t) || fbQuotedHeaderRe.MatchString(t) {
			break
		}
		lead = strings.HasSuffix(t, ":")
	}
	return ""
}

// fbReplyAfterMention is fbReplyBelow after the paragraph in which the
// text first names addr.
func fbReplyAfterMention(text, addr string) string {
	f := newFoldFinder(text, addr)
	i := f.next(0)
	if i < 0 {
		return ""
	}
	// fbReplyBelow reads a few lines: look no further than they can hold.
	seg := text[i:min(len(text), i+4096)]
	j := strings.Index(seg, "\n\n")
	if k := strings.Index(seg, "\n\r\n"); k >= 0 && (j < 0 || k < j) {
		j = k
	}
	if j < 0 {
		return ""
	}
	return fbReplyBelow(textLines(seg[j:]))
}

// An address named only in the header is explained by the lines around
// its mention in the text, or else by the text's first reply: the first
// paragraph of what fbFirstReply returns.
func fbFirstReply(text string) string {
	if r := replyIn(text); r != "" {
		return firstParagraph(r)
	}
	return ""
}

// nullReturnPath reports whether the message came with the null reverse
// path that RFC 5321 s4.5.5 requires of a bounce.
func nullReturnPath(m *message) bool {
	return strings.TrimSpace(m.get("Return-Path")) == "<>"
}
