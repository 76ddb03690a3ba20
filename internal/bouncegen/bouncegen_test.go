package bouncegen

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/classify"
)

// Every generated kind must read as what it claims to be, for the
// recipient it names: a load test of unknowns would measure the wrong thing.
func TestKindsClassify(t *testing.T) {
	now := time.Date(2025, 3, 3, 9, 14, 7, 0, time.UTC)
	for _, k := range Kinds {
		t.Run(k.String(), func(t *testing.T) {
			for i, rcpt := range []string{"user0000042@example.org", "j.doe@mail.example.net"} {
				rp := VERP(rcpt, "bounce.example.com")
				raw := Message(k, rcpt, rp, i, now)
				if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
					t.Fatal("a line ends in a bare LF")
				}
				// Classify without the VERP hint, so the report's own text is what names the recipient.
				vs := classify.Classify(raw, classify.Input{EnvelopeRecipient: rp, Now: now})
				if len(vs) != 1 || vs[0].Recipient != rcpt || string(vs[0].Class) != k.Class() {
					t.Errorf("%s for %s: verdicts %s, want one %s verdict for it", k, rcpt, summary(vs), k.Class())
				}
			}
		})
	}
}

func TestMixedCoversEveryKind(t *testing.T) {
	seen := map[Kind]bool{}
	for i := range len(mix) {
		seen[Mixed(i)] = true
	}
	if len(seen) != len(Kinds) {
		t.Errorf("the mix has %d kinds, want all %d", len(seen), len(Kinds))
	}
}

func summary(vs []classify.Verdict) string {
	s := ""
	for _, v := range vs {
		s += fmt.Sprintf("[%s %s %s %s/%s] ", v.Recipient, v.Class, v.Reason, v.Evidence.Decoder, v.Evidence.Rule)
	}
	return s
}
