package classify

// fml, the Japanese mailing-list manager, refuses a post from a
// non-member with "You are not a member of this mailing list
// <list@example.org>.": the list address was the recipient, and the sender
// was refused.
func init() {
	register(decoder{name: "fml", order: orderMTA, decode: decodeFML})
}

var fmlNotMemberRe = mustFastRe(`(?i)you are not a member of this mailing list <([^<>\s]+@[^<>\s]+)>`)

func decodeFML(m *message) []Verdict {
	mm := m.textSubmatch(fmlNotMemberRe)
	if mm == nil {
		return nil
	}
	f := finding{recipient: mm[1], action: "failed", diagnostic: mm[0],
		reason: RejectedSender, rule: "fml-not-member"}
	return []Verdict{decide("fml", f)}
}
