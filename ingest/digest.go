package ingest

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"strings"
)

// digest names a message for the store's deduplication: a SHA-256 of the
// envelope (MAIL FROM and the set of RCPT TO addresses, case folded) and
// of the bytes, line ends folded to LF.
//
// Why the bytes, and not the report's identity (reporting MTA,
// Message-ID or envelope id, recipient, status): what must count once is
// a retransmission, the same message sent again by an MTA that never saw
// our 250, and an MTA resends exactly the bytes it queued. Two genuine
// bounces are never byte for byte the same (each has its own Message-ID
// and Date), while two distinct failures can share a report's identity
// (two sends to one dead address, reported by one MTA without an envelope
// id) and must both count. The digest needs no parsing, so it holds for a
// message the classifier could not read, and it is the same for a DATA and
// a BDAT transfer of the message.
func digest(env Envelope, raw []byte) []byte {
	h := sha256.New()
	h.Write([]byte("bouncesink message v1\x00"))
	h.Write([]byte(strings.ToLower(env.From)))
	h.Write([]byte{0})
	to := make([]string, len(env.To))
	for i, r := range env.To {
		to[i] = strings.ToLower(strings.TrimSpace(r))
	}
	slices.Sort(to)
	for _, r := range slices.Compact(to) {
		h.Write([]byte(r))
		h.Write([]byte{0})
	}
	h.Write([]byte{0})
	for len(raw) > 0 {
		line, rest, found := bytes.Cut(raw, []byte("\r\n"))
		h.Write(line)
		if found {
			h.Write([]byte{'\n'})
		}
		raw = rest
	}
	return h.Sum(nil)
}
