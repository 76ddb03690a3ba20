package ingest

import (
	"errors"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/verp"
)

// recipientOf returns the original recipient an envelope recipient names
// (the classifier's hint), and whether it is a return path our keys
// signed, with what the signature says.
//
// Any signature our keys made binds, expired or not: whether a bounce to
// an expired return path is taken at all is decided at RCPT time
// (require_signed), and an expired signature is still proof of whom the
// message went to. An unsigned address is read as a plain VERP address,
// as it would be without keys.
func (s *Sink) recipientOf(rcpt string, now time.Time) (hint string, sg verp.Signed, signed bool) {
	if s.Signer != nil {
		got, err := s.Signer.Verify(rcpt, now)
		switch {
		case err == nil || errors.Is(err, verp.ErrExpired):
			return got.Recipient, got, true
		case errors.Is(err, verp.ErrBadSignature):
			// Forged or from a retired key: its tag is no better a hint
			// than the report, and read as a plain one it is nonsense.
			return "", verp.Signed{}, false
		}
	}
	hint, _ = verp.Decode(rcpt, s.VERPSeparator)
	return hint, verp.Signed{}, false
}

// bind makes the verdicts of a message sent to a signed return path apply
// to the recipient the signature names, since the report text may be
// forged or may name a forwarding address:
//
//   - a verdict naming the signed recipient stands;
//   - if one does, the verdicts naming anyone else lose their recipient:
//     they are kept with the message, for review, but change no one's state;
//   - if none does, every verdict is given the signed recipient (when the
//     signature names only a hash, there is no one to give it to, and they
//     lose their recipient).
//
// The address the report named goes into the verdict's evidence detail.
func bind(vs []classify.Verdict, sg verp.Signed) []classify.Verdict {
	named := false
	for _, v := range vs {
		named = named || sg.Names(v.Recipient)
	}
	out := make([]classify.Verdict, 0, len(vs))
	for _, v := range vs {
		switch claimed := v.Recipient; {
		case sg.Names(claimed):
		case named || sg.Recipient == "":
			v.Recipient = ""
			v.Evidence.Detail = addDetail(v.Evidence.Detail, "report names "+orNone(claimed)+
				", not the recipient of the signed return path; applied to no one")
		default:
			v.Recipient = sg.Recipient
			v.Evidence.Detail = addDetail(v.Evidence.Detail, "recipient from the signed return path (key "+
				sg.KeyID+"); report names "+orNone(claimed))
		}
		out = append(out, v)
	}
	return out
}

func orNone(addr string) string {
	if addr == "" {
		return "no recipient"
	}
	return addr
}

func addDetail(detail, more string) string {
	if detail == "" {
		return more
	}
	return detail + "; " + more
}
