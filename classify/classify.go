package classify

// Classify reads one raw message (a bounce, a feedback report, an
// auto-reply, or anything at all) and returns one verdict per recipient it
// names. It never panics and never fails: input it cannot read yields a
// single verdict of class Unknown. It always returns at least one verdict.
func Classify(raw []byte, in Input) []Verdict {
	return []Verdict{{Recipient: in.VERPRecipient, Class: Unknown, Reason: ReasonUnknown,
		Evidence: Evidence{Decoder: "none", Rule: "not-implemented"}}}
}
