package classify

// Reason is a short, language-neutral token saying why a message failed.
type Reason string

const ReasonUnknown Reason = "unknown"
