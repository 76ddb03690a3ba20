package verp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	keyA = Key{ID: "a", Secret: []byte("0123456789abcdef-key-a")}
	keyB = Key{ID: "b2", Secret: []byte("0123456789abcdef-key-b")}
	now  = time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)
)

func signer(t *testing.T, keys ...Key) *Signer {
	t.Helper()
	s, err := NewSigner(SignerOptions{Keys: keys, Lifetime: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := signer(t, keyA)
	tests := []struct {
		rcpt     string
		want     string // Signed.Recipient; "" for the hash form
		wantForm string // prefix of the tag
	}{
		{"alice@example.org", "alice@example.org", "alice=example.org."},
		{"Alice.Smith@Example.ORG", "alice.smith@example.org", "alice.smith=example.org."},
		{"o'brien+news@example.org", "o'brien+news@example.org", "o'brien+news=example.org."},
		{"a=b@example.org", "a=b@example.org", "a=b=example.org."},
		{"jö@bücher.de", "jö@xn--bcher-kva.de", "x-"},
		{"jürgen@bücher.de", "", "h-"}, // too long in base32
		{"alice@bücher.de", "alice@xn--bcher-kva.de", "alice=xn--bcher-kva.de."},
		{"a%b@example.org", "a%b@example.org", "x-"},
		{"x@y.example", "x@y.example", "x=y.example."},
		// 36 characters: the longest that keeps the readable form.
		{"abcdefghijklmnopqrstuvwx@example.org", "abcdefghijklmnopqrstuvwx@example.org", "abcdefghijklmnopqrstuvwx=example.org."},
		{"abcdefghijklmnopqrstuvwxy@example.org", "", "h-"},
		{"firstname.lastname@a-rather-long-company-domain.example", "", "h-"},
	}
	for _, tt := range tests {
		addr, err := s.Sign("bounces@bounce.example.com", tt.rcpt, now)
		if err != nil {
			t.Errorf("Sign(%q): %v", tt.rcpt, err)
			continue
		}
		local, domain, _ := strings.Cut(addr, "@")
		if len(local) > 64 || domain != "bounce.example.com" || !strings.HasPrefix(local, "bounces+"+tt.wantForm) ||
			addr != strings.ToLower(addr) || !dotAtom(local) {
			t.Errorf("Sign(%q) = %q (local part %d octets), want bounces+%s...@bounce.example.com within 64 octets",
				tt.rcpt, addr, len(local), tt.wantForm)
		}
		sg, err := s.Verify(addr, now)
		if err != nil {
			t.Errorf("Verify(%q): %v", addr, err)
			continue
		}
		if sg.Recipient != tt.want || sg.ReturnPath != "bounces@bounce.example.com" || sg.KeyID != "a" {
			t.Errorf("Verify(%q) = %+v, want recipient %q", addr, sg, tt.want)
		}
		if !sg.Names(tt.rcpt) || !sg.Names(strings.ToUpper(tt.rcpt)) || sg.Names("mallory@example.net") {
			t.Errorf("Verify(%q).Names does not name exactly %q", addr, tt.rcpt)
		}
		// A relay that upper-cases the return path changes nothing.
		if _, err := s.Verify(strings.ToUpper(addr), now); err != nil {
			t.Errorf("Verify(upper-cased %q): %v", addr, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	s := signer(t, keyA)
	addr, err := s.Sign("bounces@bounce.example.com", "alice@example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Time
		want error
	}{
		{now, nil},
		{now.Add(7*24*time.Hour - time.Minute), nil},
		{now.Add(7*24*time.Hour + time.Hour), ErrExpired}, // expiry rounds up to the hour, no further
		{now.Add(365 * 24 * time.Hour), ErrExpired},
	} {
		sg, err := s.Verify(addr, tt.at)
		if !errors.Is(err, tt.want) {
			t.Errorf("Verify at %s = %v, want %v", tt.at, err, tt.want)
		}
		// An expired signature is still genuine: it says whom it names.
		if sg.Recipient != "alice@example.org" {
			t.Errorf("Verify at %s: recipient %q", tt.at, sg.Recipient)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	old := signer(t, keyA)
	rotated := signer(t, keyB, keyA) // the new key signs, the old one still verifies
	retired := signer(t, keyB)

	byOld, _ := old.Sign("bounces@bounce.example.com", "alice@example.org", now)
	byNew, _ := rotated.Sign("bounces@bounce.example.com", "alice@example.org", now)
	if !strings.Contains(byNew, ".b2") {
		t.Errorf("rotated signer made %q, want the first key (b2) to sign", byNew)
	}
	for _, tt := range []struct {
		name string
		s    *Signer
		addr string
		want error
	}{
		{"old key, rotated signer", rotated, byOld, nil},
		{"new key, rotated signer", rotated, byNew, nil},
		{"new key, old signer", old, byNew, ErrBadSignature},
		{"old key, retired", retired, byOld, ErrBadSignature},
	} {
		if _, err := tt.s.Verify(tt.addr, now); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify(%q) = %v, want %v", tt.name, tt.addr, err, tt.want)
		}
	}
}

func TestTamperingIsDetected(t *testing.T) {
	s := signer(t, keyA)
	addr, _ := s.Sign("bounces@bounce.example.com", "alice@example.org", now)
	local, domain, _ := strings.Cut(addr, "@")
	tag := strings.TrimPrefix(local, "bounces+")
	parts := strings.Split(tag, ".") // alice=example, org, exp, amac
	exp, sig := parts[len(parts)-2], parts[len(parts)-1]
	other := Key{ID: "a", Secret: []byte("another secret of sixteen bytes")}
	forged, _ := signer(t, other).Sign("bounces@bounce.example.com", "alice@example.org", now)

	for _, tt := range []struct {
		name, addr string
		want       error
	}{
		{"other recipient, same MAC", strings.Replace(addr, "alice=", "mallory=", 1), ErrBadSignature},
		{"other recipient domain", strings.Replace(addr, "=example.org", "=example.net", 1), ErrBadSignature},
		{"later expiry", strings.Replace(addr, "."+exp+".", ".zzzz.", 1), ErrBadSignature},
		{"other return path", strings.Replace(addr, "bounces+", "returns+", 1), ErrBadSignature},
		{"other domain", local + "@bounce.example.net", ErrBadSignature},
		{"flipped MAC character", local[:len(local)-1] + flip(local[len(local)-1]) + "@" + domain, ErrBadSignature},
		{"unknown key id", strings.Replace(addr, "."+sig, ".z"+sig[1:], 1), ErrBadSignature},
		{"another sink's key", forged, ErrBadSignature},
		{"MAC cut by one", strings.Replace(addr, sig, sig[:len(sig)-1], 1), ErrUnsigned}, // too short to be one
		{"MAC cut, key id kept", strings.Replace(addr, sig, "a"+sig[:len(sig)-1], 1), ErrBadSignature},
		{"no signature", "bounces+alice=example.org@bounce.example.com", ErrUnsigned},
		{"plain return path", "bounces@bounce.example.com", ErrUnsigned},
		{"garbage", "+..@", ErrUnsigned},
		{"empty", "", ErrUnsigned},
	} {
		if _, err := s.Verify(tt.addr, now); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify(%q) = %v, want %v", tt.name, tt.addr, err, tt.want)
		}
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestSignErrors(t *testing.T) {
	s := signer(t, keyA)
	for _, tt := range []struct{ returnPath, rcpt string }{
		{"bounces@bounce.example.com", "not an address"},
		{"bounces@bounce.example.com", "alice@"},
		{"bounces@bounce.example.com", "al ice@example.org"},
		{"bounces@bounce.example.com", "alice@exa mple.org"},
		{"bounces+x@bounce.example.com", "alice@example.org"}, // separator in the base
		{"bounce.example.com", "alice@example.org"},
		{strings.Repeat("b", 50) + "@bounce.example.com", "alice@example.org"}, // no room left
	} {
		if got, err := s.Sign(tt.returnPath, tt.rcpt, now); err == nil {
			t.Errorf("Sign(%q, %q) = %q, want an error", tt.returnPath, tt.rcpt, got)
		}
	}
}

func TestNewSignerRejectsBadKeys(t *testing.T) {
	for _, o := range []SignerOptions{
		{},
		{Keys: []Key{{ID: "", Secret: keyA.Secret}}},
		{Keys: []Key{{ID: "A", Secret: keyA.Secret}}},
		{Keys: []Key{{ID: "toolongid", Secret: keyA.Secret}}},
		{Keys: []Key{{ID: "a", Secret: []byte("short")}}},
		{Keys: []Key{keyA, keyA}},
		{Keys: []Key{keyA}, Lifetime: time.Minute},
		{Keys: []Key{keyA}, Separator: "="},
	} {
		if _, err := NewSigner(o); err == nil {
			t.Errorf("NewSigner(%+v) succeeded, want an error", o)
		}
	}
}

// The legacy decoder must not mistake a signed tag for a plain one in a
// way that names a real-looking recipient at the recipient's own domain.
func TestSignedAddressIsAcceptedByTheVERPSplit(t *testing.T) {
	s := signer(t, keyA)
	addr, _ := s.Sign("bounces@news.example.com", "alice@example.org", now)
	if base, _, ok := Split(addr, "+"); !ok || base != "bounces@news.example.com" {
		t.Errorf("Split(%q) = %q, %v; want the base return path", addr, base, ok)
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner(SignerOptions{Keys: []Key{keyA}})
	good, _ := s.Sign("bounces@bounce.example.com", "alice@example.org", now)
	f.Add(good)
	f.Add("bounces+x-mfrgg.cz5x.aaaaaaaaaaaaaa@b.example")
	f.Add("b+h-aaaaaaaaaaaaa.1.a0000000000000@x")
	f.Fuzz(func(t *testing.T, addr string) {
		sg, err := s.Verify(addr, now)
		if err == nil && sg.Recipient == "" && sg.hash == "" {
			t.Errorf("Verify(%q) valid but names no one", addr)
		}
	})
}
