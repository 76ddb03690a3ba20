package ingest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/verp"
)

func testSigner(t *testing.T) *verp.Signer {
	t.Helper()
	s, err := verp.NewSigner(verp.SignerOptions{Keys: []verp.Key{{ID: "a", Secret: []byte("0123456789abcdef0123")}},
		Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A forged bounce to a signed return path cannot get anyone but the
// signed recipient suppressed: the verdicts apply to the recipient the
// signature names, and what the report claimed is kept as evidence.
func TestSignedReturnPathBindsTheVerdictRecipient(t *testing.T) {
	signer := testSigner(t)
	sign := func(rcpt string, at time.Time) string {
		addr, err := signer.Sign("bounces@news.example.com", rcpt, at)
		if err != nil {
			t.Fatal(err)
		}
		return addr
	}
	hard := func(rcpt string) classify.Verdict {
		return classify.Verdict{Recipient: rcpt, Class: classify.Hard, Status: "5.1.1",
			Evidence: classify.Evidence{Decoder: "rfc3464", Detail: "d"}}
	}
	long := "firstname.lastname@a-rather-long-company-domain.example" // signed as a hash
	tests := []struct {
		name     string
		to       string
		verdicts []classify.Verdict
		wantHint string
		want     []store.Observation // Recipient and Detail only
	}{
		{"report names the signed recipient", sign("alice@example.org", t0),
			[]classify.Verdict{hard("Alice@Example.org")}, "alice@example.org",
			[]store.Observation{{Recipient: "Alice@Example.org", Detail: "d"}}},
		{"report names someone else", sign("alice@example.org", t0),
			[]classify.Verdict{hard("victim@example.com")}, "alice@example.org",
			[]store.Observation{{Recipient: "alice@example.org",
				Detail: "d; recipient from the signed return path (key a); report names victim@example.com"}}},
		{"report names the recipient and others", sign("alice@example.org", t0),
			[]classify.Verdict{hard("victim@example.com"), hard("alice@example.org")}, "alice@example.org",
			[]store.Observation{
				{Recipient: "", Detail: "d; report names victim@example.com, not the recipient of the signed return path; applied to no one"},
				{Recipient: "alice@example.org", Detail: "d"}}},
		{"report names no one", sign("alice@example.org", t0),
			[]classify.Verdict{{Class: classify.AutoReply}}, "alice@example.org",
			[]store.Observation{{Recipient: "alice@example.org",
				Detail: "recipient from the signed return path (key a); report names no recipient"}}},
		{"expired signature still binds", sign("alice@example.org", t0.Add(-48*time.Hour)),
			[]classify.Verdict{hard("victim@example.com")}, "alice@example.org",
			[]store.Observation{{Recipient: "alice@example.org",
				Detail: "d; recipient from the signed return path (key a); report names victim@example.com"}}},
		{"hash form, report matches", sign(long, t0),
			[]classify.Verdict{hard(strings.ToUpper(long))}, "",
			[]store.Observation{{Recipient: strings.ToUpper(long), Detail: "d"}}},
		{"hash form, report names someone else", sign(long, t0),
			[]classify.Verdict{hard("victim@example.com")}, "",
			[]store.Observation{{Recipient: "",
				Detail: "d; report names victim@example.com, not the recipient of the signed return path; applied to no one"}}},
		// A forged signature names no one: the report decides.
		{"forged signature", strings.Replace(sign("alice@example.org", t0), "alice=", "carol=", 1),
			[]classify.Verdict{hard("victim@example.com")}, "",
			[]store.Observation{{Recipient: "victim@example.com", Detail: "d"}}},
		// An unsigned VERP tag binds as a signature does: the return path
		// outranks the text, whose address is evidence only.
		{"unsigned VERP, report names someone else", "bounces+alice=example.org@news.example.com",
			[]classify.Verdict{hard("victim@example.com")}, "alice@example.org",
			[]store.Observation{{Recipient: "alice@example.org",
				Detail: "d; recipient from the return path's VERP tag; report names victim@example.com"}}},
		{"unsigned VERP, report names the recipient and others", "bounces+Alice=Example.org@news.example.com",
			[]classify.Verdict{hard("victim@example.com"), hard("ALICE@example.org")}, "alice@example.org",
			[]store.Observation{
				{Recipient: "", Detail: "d; report names victim@example.com, not the recipient of the return path; applied to no one"},
				{Recipient: "ALICE@example.org", Detail: "d"}}},
		{"unsigned VERP, tag is no address", "bounces+alice=@news.example.com",
			[]classify.Verdict{hard("victim@example.com")}, "",
			[]store.Observation{{Recipient: "victim@example.com", Detail: "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hints []string
			fn := func(raw []byte, in classify.Input) []classify.Verdict {
				hints = append(hints, in.VERPRecipient)
				return slices.Clone(tt.verdicts)
			}
			rec := &recorder{}
			s := newSink(t, rec, fn)
			s.Signer = signer
			if err := s.Deliver(context.Background(), Envelope{To: []string{tt.to}}, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if len(hints) != 1 || hints[0] != tt.wantHint {
				t.Errorf("classifier hint %q, want %q", hints, tt.wantHint)
			}
			var got []store.Observation
			for _, o := range rec.msgs[0].Observations {
				got = append(got, store.Observation{Recipient: o.Recipient, Detail: o.Detail})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("observations %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("observation %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
