package smtpd

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/verp"
)

func TestRequireSignedRefusesAtRCPT(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	signer, err := verp.NewSigner(verp.SignerOptions{Keys: []verp.Key{{ID: "a", Secret: []byte("0123456789abcdef0123")}},
		Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(rcpt string, at time.Time) string {
		addr, err := signer.Sign("bounces@news.example.com", rcpt, at)
		if err != nil {
			t.Fatal(err)
		}
		return addr
	}
	opts := returnPaths
	opts.Signer, opts.RequireSigned = signer, true
	opts.Now = func() time.Time { return t0 }
	m := &memory{}
	_, addr := start(t, m, opts)
	c := dial(t, addr)

	valid := sign("alice@example.org", t0)
	refused := []struct {
		name, rcpt, want string
	}{
		{"unsigned VERP", "bounces+alice=example.org@news.example.com", "not signed"},
		{"plain return path", "bounces@news.example.com", "not signed"},
		{"expired", sign("alice@example.org", t0.Add(-25*time.Hour)), "expired"},
		{"tampered", strings.Replace(valid, "alice=", "carol=", 1), "not valid"},
		{"other key", func() string {
			other, _ := verp.NewSigner(verp.SignerOptions{Keys: []verp.Key{{ID: "a", Secret: []byte("a different secret!!")}}})
			a, _ := other.Sign("bounces@news.example.com", "alice@example.org", t0)
			return a
		}(), "not valid"},
	}
	for _, tt := range refused {
		if err := c.Mail("", nil); err != nil {
			t.Fatal(err)
		}
		se := wantCode(t, c.Rcpt(tt.rcpt, nil), 550, smtp.EnhancedCode{5, 7, 1})
		if !strings.Contains(se.Message, tt.want) {
			t.Errorf("%s: reply %q, want it to say %q", tt.name, se.Message, tt.want)
		}
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	// Foreign addresses are still refused as such, signed or not.
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("victim@gmail.com", nil), 550, smtp.EnhancedCode{5, 1, 1})
	c.Reset()

	if err := send(c, "", []string{valid}, []byte(bounce)); err != nil {
		t.Fatalf("signed return path: %v", err)
	}
	// A relay that upper-cased the address changes nothing.
	if err := send(c, "", []string{strings.ToUpper(valid)}, []byte(bounce)); err != nil {
		t.Fatalf("upper-cased signed return path: %v", err)
	}
	if m.count() != 2 || m.envs[0].To[0] != valid {
		t.Errorf("delivered %+v, want the two signed messages", m.envs)
	}
}
