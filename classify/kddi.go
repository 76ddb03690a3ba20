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
	// "Each of the following recipients was rejected by a remote mail
	// server." then Recipient: / >>> / <<< lines per recipient.
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(l, "Recipient:"):
			fs = append(fs, finding{recipient: firstAddrIn(l), action: "failed"})
		case strings.HasPrefix(l, "<<<") && len(fs) > 0:
			last := &fs[len(fs)-1]
			last.diagnostic = strings.TrimSpace(strings.TrimSpace(last.diagnostic) + " " + strings.TrimSpace(l[3:]))
		case strings.HasPrefix(strings.ToLower(l), "could not be delivered to:"):
			// KDDI ISP mail: the reason follows on the next lines.
			f := finding{recipient: firstAddrIn(l), action: "failed"}
			for j := i + 1; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
				f.diagnostic += " " + strings.TrimSpace(lines[j])
			}
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nil // DSN-shaped reports go to the rhost and rfc3464 decoders
	}
	var out []Verdict
	for _, f := range fs {
		if f.recipient == "" {
			continue
		}
		if matchText(f.diagnostic) == nil {
			if p, ok := matchPhrases(auPhrasesText, f.diagnostic+"\n"+m.text); ok {
				f.reason, f.rule = p.reason, "au-"+p.name
			}
		}
		out = append(out, decide("au", f))
	}
	return out
}

// addrDomain returns the lower-cased domain of an address, or "".
func addrDomain(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return ""
}
