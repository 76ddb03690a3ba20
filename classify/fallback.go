package classify

import (
	"strings"
)

// The fallback decoder runs last, on bounces no named format claimed. It
// reads what nearly every human-readable bounce shares: a failed address
// on a line of its own or after words like "could not be delivered to",
// and below it the remote server's reply. It fires only on a message that
// says it is a bounce (a mail-system sender, a bounce subject or
// X-Failed-Recipients) and only for addresses that stand where a failed
// recipient stands; it never takes the bounce's own From or To, nor an
// address of the returned message's header.
func init() {
	register(decoder{name: "fallback", order: orderFallback, decode: decodeFallback})
}

var (
	// fbFailureRe: without one of these words a text does not report a failure.
	fbFailureRe = mustFastRe(`(?i)deliver|fail|reject|bounce|refused|denied|unknown|unable|error|blocked`)
	// fbOriginal opens the returned message or its header.
	fbOriginal = mustFastRe(`(?im)^[ \t>-]*(?:-+ ?)?(?:original message|the original message (?:follows|headers?)|below (?:this line )?is (?:a copy of )?the (?:original )?message|this is a copy of the message|(?:un(?:sent|delivered)|returned) message|message headers follow|included is a copy|a copy of the (?:original )?message)|^(?:Received|Return-Path|DKIM-Signature|Message-I[Dd]|MIME-Version|X-[A-Za-z0-9-]+): `)
	// fbSentenceRe: the sentences with which bounces say what they are.
	fbSentenceRe = mustFastRe(`(?i)could ?n[o']t be delivered|undeliverable|delivery (?:has |to .{1,80} )?failed|permanent (?:error|failure|fatal)|delivery status notification|following (?:address|recipient)|returned to (?:the )?sender|unable to deliver|mailer-daemon`)
	// fbQuotedHeaderRe: a line quoting a header of the original message.
	fbQuotedHeaderRe = mustFastRe(`(?i)^\s*(from|to|cc|bcc|reply-to|sender|return-path|envelope-from|x-[a-z-]+)\s*:`)
	// fbLeadRe: words that put a failed address after them on a line.
	fbLeadRe = mustFastRe(`(?i)(?:(?:deliver(?:ed|y)?|sent|send|failed|undeliverable|rejected|refused|unknown|bounced|recipients?|address(?:es|\(es\))?|user(?:id)?|mailbox|mail|message|errors?|for)\s*(?:to|for|at)?\s*:?|^[245]\d\d(?:[ -][245]\.\d{1,3}\.\d{1,3})?)\s*["<(\[]?$`)
	// fbListIntroRe: a sentence that announces a list of failed addresses.
	fbListIntroRe = mustFastRe(`(?i)(recipient|address|deliver|fail).*:\s*$`)
)

func decodeFallback(m *message) []Verdict {
	if !looksLikeBounce(m) || !m.textMatches(fbFailureRe) {
		return nil
	}
	// A bounce subject alone, from what may be a person, needs the text
	// to read as a bounce too and its addresses to come with a reply.
	strong := m.get("X-Failed-Recipients") != "" || looksLikeBounceSender(m) || nullReturnPath(m)
	if !strong && !m.textMatches(fbSentenceRe) {
		return nil
	}
	text := m.text
	if loc := fbOriginal.FindStringIndex(text); loc != nil && loc[0] > 0 {
		text = text[:loc[0]]
	}
	exclude := fbOwnAddresses(m)
	action := "failed"
	if delayWarningRe.MatchString(text) || strings.Contains(strings.ToLower(m.get("Subject")), "delay") {
		action = "delayed"
	}
	senders := senderAddresses(m, text)

	var out []Verdict
	seen := map[string]bool{}
	add := func(addr, diag string) {
		if addr == "" || exclude[addr] || seen[addr] || len(out) >= 32 {
			return
		}
		if !strong && replyCodeInText(diag) == 0 && parseStatus(diag) == "" {
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
		} else {
			if !replyRead {
				reply, replyRead = fbFirstReply(text), true
			}
			why = reply
		}
		add(a, why)
	}
	if len(out) > 0 {
		return out
	}
	lines := textLines(text)
	intro := false // the previous paragraph announced a list
	// Addresses listed with nothing beside them: the explanation, if the
	// bounce gives one, is the paragraph after the list (Sendmail-like
	// "addresses had delivery problems" lists, James's "Failed
	// recipient(s):"), shared by all of them.
	var unexplained []string
	lastListed := 0
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if fbQuotedHeaderRe.MatchString(t) {
			intro = false
			continue
		}
		for _, loc := range addrRe.FindAllStringIndex(t, 8) {
			addr := cleanAddress(t[loc[0]:loc[1]])
			if addr == "" || exclude[addr] {
				continue
			}
			before := strings.TrimSpace(t[:loc[0]])
			afterAddr := strings.TrimSpace(strings.TrimLeft(t[loc[1]:], `>"')]`))
			alone := strings.Trim(before, `<"'*-•([ `) == "" // the address leads its line
			if !(alone && (intro || afterAddr == "" || strings.HasPrefix(afterAddr, ":") || replyIn(afterAddr) != "" || strings.HasPrefix(afterAddr, "[")) ||
				fbLeadRe.MatchString(before)) {
				continue
			}
			diag := fbDiagnostic(afterAddr, lines[i+1:])
			if diag == "" {
				unexplained, lastListed = append(unexplained, addr), i
				continue
			}
			add(addr, diag)
		}
		intro = fbListIntroRe.MatchString(t) || intro && addrRe.MatchString(t)
	}
	if len(unexplained) > 0 {
		why := fbAfterList(lines[lastListed+1:])
		for _, a := range unexplained {
			add(a, why)
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

// fbAfterList returns the explanation that follows a list of failed
// addresses: past blank lines and "----- ... -----" rulers, what
// fbDiagnostic reads below an address.
func fbAfterList(below []string) string {
	for i, l := range below {
		t := strings.TrimSpace(l)
		if t == "" || strings.Trim(t, "-=*_ ") == "" || strings.HasPrefix(t, "---") {
			continue
		}
		return fbDiagnostic("", below[i:])
	}
	return ""
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
func fbDiagnostic(rest string, below []string) string {
	rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
	parts := []string{rest}
	for _, l := range below {
		t := strings.TrimSpace(l)
		if t == "" || fbQuotedHeaderRe.MatchString(t) {
			break
		}
		if _, _, ok := leadingAddress(t); ok {
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
