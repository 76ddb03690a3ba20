package classify

import "strings"

// A relay or MTA that reports another server's refusal often wraps that
// server's reply in a summary of its own: Amazon SES "5.1.0 - Unknown
// address error 550-'5.7.1 ... Access denied'", Postfix "host X said: 550
// ...", Exim "SMTP error from remote mail server after RCPT TO:<a@b>: 550
// ...", Exchange "Remote Server returned '550 5.7.1 ...'". The summary is
// the wrapper's guess made from the reply; the reply is what the receiving
// server said (RFC 5321 s4.2, with its RFC 3463 enhanced code), so its
// code, status and words decide.

// innerReply returns the innermost SMTP reply embedded in a diagnostic
// after words of the wrapper's own, from its reply code to the end of
// the text, or "" when the text has no such reply (it opens with its
// only reply, or quotes none). A reply is a reply code (RFC 5321 s4.2)
// followed by an enhanced status code of the same class, or one that
// follows a colon or a quote as "said: 554 ..." and "'554 ..." do. The
// lines of a multi-line reply ("550-5.7.1 ... 550 5.7.1 ...") repeat its
// code: they are one reply.
func innerReply(s string) string {
	start, prevCode, prevCont := -1, "", false
	for i := replyCodeFrom(s, 0); i >= 0; i = replyCodeFrom(s, i+3) {
		if !isReplyAt(s, i) {
			continue
		}
		code := s[i : i+3]
		cont := i+3 < len(s) && s[i+3] == '-'
		if start < 0 || !(prevCont && code == prevCode) {
			start = i
		}
		prevCode, prevCont = code, cont
	}
	if start <= 0 {
		return ""
	}
	return s[start:]
}

// isReplyAt reports whether the reply code at s[i:] starts a reply: it
// carries an enhanced status code of its class ("550 5.7.1", "550-'5.7.1"),
// or it is a failure code (4xx, 5xx) introduced as a reply: quoted
// ("returned '554 ...") or after a colon that ends the words of one
// ("said: 554", "replied: 554", Exim's "RCPT TO:<a@b>: 550", "host
// mx [192.0.2.1]: 550"). A number after any other colon is a figure
// ("limit: 500 messages", "size: 250 MB"), not a reply.
func isReplyAt(s string, i int) bool {
	rest := s[i+3:]
	if len(rest) > 0 {
		rest = strings.TrimLeft(rest[1:], `'"`)
	}
	if len(rest) >= 2 && rest[0] == s[i] && rest[1] == '.' {
		if loc, ok := nextStatus(" "+rest, 0); ok && loc[2] == 1 {
			return true
		}
	}
	before := strings.TrimRight(s[:i], " ")
	if before == "" {
		return true
	}
	if s[i] == '2' {
		return false
	}
	switch before[len(before)-1] {
	case '\'', '"':
		return true
	case ':':
		before = strings.TrimRight(before[:len(before)-1], " ")
		if strings.HasSuffix(before, ">") || strings.HasSuffix(before, "]") {
			return true
		}
		w := strings.LastIndexAny(before, " (") + 1
		return replyVerbs[strings.ToLower(before[w:])]
	}
	return false
}

// replyVerbs are the words with which MTAs introduce the reply they quote
// ("host X said:", "remote server replied:", "refused to talk to me:").
var replyVerbs = map[string]bool{
	"said": true, "says": true, "replied": true, "responded": true, "answered": true,
	"returned": true, "reply": true, "response": true, "me": true,
}
