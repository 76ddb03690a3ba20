package classify

import (
	"slices"
	"strings"
)

// KDDI's au mail (ezweb.ne.jp, au.com) and its ISP mail (dion.ne.jp,
// auone-net.jp). Its MX answers "550 : User unknown" — with no address —
// when the recipient's own reception filter (指定受信/迷惑メールフィルター)
// refuses the sender, and "550 <address>: User unknown" when the mailbox
// does not exist; the empty address is the only sign of the difference.
func init() {
	register(decoder{name: "au", order: orderProvider, decode: decodeAu})
	registerRhost(rhost{name: "au", matches: isAuRecipient, phrases: auPhrases})
}

var auDomains = []string{"ezweb.ne.jp", "au.com", "dion.ne.jp", "auone-net.jp"}

func isAuRecipient(f finding) bool {
	return hostIn(recipientDomain(f), auDomains...) || hostIn(f.remoteMTA, auDomains...)
}

var auPhrases = []phrase{
	providerPhrase("filter", Filtered, `\b550 : user unknown`),
}

// auPhrasesText are the carrier's own notices, in English and Japanese.
var auPhrasesText = []phrase{
	providerPhrase("mailbox-full", MailboxFull, `mailbox is full|容量(が|を)?(超|オーバー|一杯|いっぱい)`),
	providerPhrase("disabled", Disabled, `account is disabled`),
	providerPhrase("user-unknown", UserUnknown, `(送信先|宛先)(の)?メールアドレスが(見つかりません|存在しません)`),
}

func decodeAu(m *message) []Verdict {
	from := m.fromLower()
	// The sender's domain is a part of From: a From without any of the
	// domains needs no address read from it.
	if !slices.ContainsFunc(auDomains, func(d string) bool { return strings.Contains(from, d) }) ||
		!hostIn(addrDomain(firstAddrIn(from)), auDomains...) {
		return nil
	}
	lines := textLines(m.text)
	var fs []finding
	// Each finding's diagnostic is made of pieces, joined at the end:
	// appending each line to it would copy it once per line. reason holds
	// the ISP form's reason lines, replies the "<<<" lines.
	type pieces struct{ reason, replies []string }
	var ps []pieces
	isp := -1 // the ISP-form finding whose reason lines are being read
	// "Each of the following recipients was rejected by a remote mail
	// server." then Recipient: / >>> / <<< lines per recipient.
	for _, line := range lines {
		l := strings.TrimSpace(line)
		ispLine := strings.HasPrefix(strings.ToLower(l), "could not be delivered to:")
		if isp >= 0 {
			// KDDI ISP mail: the reason follows on the next lines, up to a
			// blank line or the next such recipient.
			if l == "" || ispLine {
				isp = -1
			} else {
				ps[isp].reason = append(ps[isp].reason, l)
			}
		}
		switch {
		case strings.HasPrefix(l, "Recipient:"):
			fs, ps = append(fs, finding{recipient: firstAddrIn(l), action: "failed"}), append(ps, pieces{})
		case strings.HasPrefix(l, "<<<") && len(fs) > 0:
			last := &ps[len(ps)-1]
			last.replies = append(last.replies, strings.TrimSpace(l[3:]))
		case ispLine:
			fs, ps = append(fs, finding{recipient: firstAddrIn(l), action: "failed"}), append(ps, pieces{})
			isp = len(fs) - 1
		}
	}
	for i, p := range ps {
		fs[i].diagnostic = auDiagnostic(p.reason, p.replies)
	}
	if len(fs) == 0 {
		return nil // DSN-shaped reports go to the rhost and rfc3464 decoders
	}
	// The carrier's notices, looked for in the text once, not once per
	// recipient: the first of the table that the diagnostic or the text
	// holds.
	inText := -1
	if text := foldText(m.text); text != "" {
		for i, p := range auPhrasesText {
			if p.re.MatchString(text) {
				inText = i
				break
			}
		}
	}
	var out []Verdict
	for _, f := range fs {
		if f.recipient == "" {
			continue
		}
		if len(out) >= maxFindings {
			m.cutShort(cutFindings)
			break
		}
		if matchText(f.diagnostic) == nil {
			if p, ok := firstAuPhrase(f.diagnostic, inText); ok {
				f.reason, f.rule = p.reason, "au-"+p.name
			}
		}
		out = append(out, decide("au", f))
	}
	return out
}

// auDiagnostic joins a recipient's reason lines (each appended with a
// blank before it) and "<<<" replies (each appended to the diagnostic
// trimmed, and the whole trimmed again), in that order.
func auDiagnostic(reason, replies []string) string {
	if len(replies) == 0 {
		if len(reason) == 0 {
			return ""
		}
		return " " + strings.Join(reason, " ")
	}
	var keep []string
	for _, s := range slices.Concat(reason, replies) {
		if s != "" {
			keep = append(keep, s)
		}
	}
	return strings.Join(keep, " ")
}

// firstAuPhrase is matchPhrases(auPhrasesText, diag+"\n"+text), given the
// index of the first phrase the text holds (or -1): the earliest phrase of
// the table that the diagnostic or the text holds.
func firstAuPhrase(diag string, inText int) (phrase, bool) {
	if diag == "" && inText < 0 {
		return phrase{}, false
	}
	d := foldText(diag)
	for i, p := range auPhrasesText {
		if i == inText || d != "" && p.re.MatchString(d) {
			return p, true
		}
	}
	return phrase{}, false
}

// addrDomain returns the lower-cased domain of an address, or "".
func addrDomain(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return ""
}
