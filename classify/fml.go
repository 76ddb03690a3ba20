package classify

import (
	"strings"
)

// fml, the Japanese mailing-list manager, answers a post it will not
// distribute with a notice from the list's admin address (X-MLServer:
// fml, a Message-ID "<20091226.FML12345@host>") above "Original mail as
// follows:". The notice names the list the post was sent to at the end of
// a line, "<list@example.org>.": that list address was the recipient, and
// the sender was refused: not a member ("You are not a member of this
// mailing list <list@example.org>."), a rejected or spam post, a loop
// (a duplicated Message-ID), a security alert.
func init() {
	register(decoder{name: "fml", order: orderMTA, decode: decodeFML})
}

var (
	fmlNotMemberRe = mustFastRe(`(?i)you are not a member of this mailing list <([^<>\s]+@[^<>\s]+)>`)
	fmlOriginal    = markers("original mail as follows:")
	// fmlListRe is the list address at the end of a line of the notice.
	fmlListRe = mustFastRe(`(?m)<([^<>\s]+@[^<>\s]+)>\.?[ \t\r]*$`)
	// fml's notices, and what they mean.
	fmlRejected = markers("not member article from", "you are not a member", "you are not member", "reject mail",
		"spam mail from a spammer is rejected", "rejected by our ml", "ignored because your address")
	fmlLoop     = markers("duplicated message-id", "loop alert:", "loop back warning:", "unix from loop")
	fmlSecurity = markers("security alert")
	fmlSystem   = markers("fml system error message")
)

func decodeFML(m *message) []Verdict {
	if mm := m.textSubmatch(fmlNotMemberRe); mm != nil {
		f := finding{recipient: mm[1], action: "failed", diagnostic: mm[0],
			reason: RejectedSender, rule: "fml-not-member"}
		return []Verdict{decide("fml", f)}
	}
	if !isFML(m) {
		return nil
	}
	notice := m.textBefore(fmlOriginal)
	from := firstAddress(m.get("From"))
	var list string
	for _, mm := range fmlListRe.FindAllStringSubmatch(notice, 8) {
		if a := cleanAddress(mm[1]); a != "" && a != from {
			list = a
			break
		}
	}
	if list == "" {
		return nil
	}
	f := finding{recipient: list, action: "failed", diagnostic: strings.Join(strings.Fields(firstParagraph(notice)), " ")}
	switch {
	case fmlRejected.MatchString(notice):
		f.reason, f.rule = RejectedSender, "fml-rejected"
	case fmlSecurity.MatchString(notice):
		f.reason, f.rule = SecurityError, "fml-security-alert"
	case fmlLoop.MatchString(notice):
		f.reason, f.rule = NetworkError, "fml-loop"
	case fmlSystem.MatchString(notice):
		f.reason, f.rule = SystemError, "fml-system-error"
	}
	return []Verdict{decide("fml", f)}
}

// isFML reports whether a message comes from fml: its X-MLServer field or
// the form of its Message-ID.
func isFML(m *message) bool {
	if strings.Contains(strings.ToLower(m.get("X-MLServer")), "fml") {
		return true
	}
	id := m.get("Message-Id")
	i := strings.Index(id, ".FML")
	return i > 1 && strings.HasPrefix(id, "<") && strings.Contains(id[i:], "@")
}
