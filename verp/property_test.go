package verp

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// localRunes are what generated local parts are made of: the characters of
// the plain form, those that force the x- form, upper case (signing folds
// it) and some non-ASCII letters.
var localRunes = []rune("abcxyzhAHXZ0129._-+='%!#$&*/?^`{|}~éßİК日")

// genLocal returns a random local part, often starting like one of the
// tag forms ("x-", "h-", in either case) or like the plain form's parts.
func genLocal(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(6) {
	case 0:
		b.WriteString("x-")
	case 1:
		b.WriteString("h-")
	case 2:
		b.WriteString([]string{"X-", "H-", "x=", "h=", "x", "h"}[r.IntN(6)])
	}
	for n := 1 + r.IntN(1+r.IntN(30)); n > 0; n-- { // mostly short
		b.WriteRune(localRunes[r.IntN(len(localRunes))])
	}
	return b.String()
}

var genDomains = []string{"example.org", "Example.ORG", "x.example", "h-x.example", "bücher.de", "a-rather-long-company-domain.example", "mail_x.example.net"}

// Every address signing accepts must come back from Verify naming it, in
// whichever of the three forms it was written: the forms must never be
// mistaken for one another.
func TestSignVerifyProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 14))
	for _, sep := range []string{"+", "-", "--"} {
		s, err := NewSigner(SignerOptions{Keys: []Key{keyA}, Separator: sep})
		if err != nil {
			t.Fatal(err)
		}
		forms := map[string]int{}
		for range 20000 {
			rcpt := genLocal(r) + "@" + genDomains[r.IntN(len(genDomains))]
			if _, err := Canonical(rcpt); err != nil {
				continue // not an address: Sign refuses it (TestSignErrors)
			}
			base := "bounces@bounce.example.com"
			if r.IntN(2) == 0 {
				base = "b@x.example"
			}
			addr, err := s.Sign(base, rcpt, now)
			if err != nil {
				t.Fatalf("sep %q: Sign(%q, %q): %v", sep, base, rcpt, err)
			}
			_, tag, _ := Split(addr, sep)
			switch {
			case strings.HasPrefix(tag, hashPrefix):
				forms["h-"]++
			case strings.HasPrefix(tag, b32Prefix):
				forms["x-"]++
			default:
				forms["plain"]++
			}
			sg, err := s.Verify(addr, now)
			if err != nil {
				t.Fatalf("sep %q: Sign(%q) = %q, which Verify refuses: %v", sep, rcpt, addr, err)
			}
			if !sg.Names(rcpt) || !sg.Names(strings.ToUpper(rcpt)) || sg.Names("other"+rcpt) {
				t.Fatalf("sep %q: Verify(%q) = %+v, which does not name exactly %q", sep, addr, sg, rcpt)
			}
			if c, _ := Canonical(rcpt); sg.Recipient != "" && sg.Recipient != c {
				t.Fatalf("sep %q: Verify(%q) names %q, want %q", sep, addr, sg.Recipient, c)
			}
		}
		// The generator must reach every form, or the test proves little.
		if forms["h-"] == 0 || forms["x-"] == 0 || forms["plain"] == 0 {
			t.Errorf("sep %q: forms generated %v, want all three", sep, forms)
		}
		t.Logf("sep %q: %v", sep, forms)
	}
}

// The local parts issue 14 found: plain tags that began like the x- and
// h- forms.
func TestTagFormLookalikes(t *testing.T) {
	s := signer(t, keyA)
	for _, rcpt := range []string{"x-ray@example.org", "h-index@example.org", "X-Ray@example.org", "x-@example.org", "h-aaaaaaaaaaaaa@example.org"} {
		addr, err := s.Sign("bounces@bounce.example.com", rcpt, now)
		if err != nil {
			t.Fatalf("Sign(%q): %v", rcpt, err)
		}
		sg, err := s.Verify(addr, now)
		if err != nil || !sg.Names(rcpt) {
			t.Errorf("Sign(%q) = %q; Verify: %+v, %v", rcpt, addr, sg, err)
		}
	}
}
