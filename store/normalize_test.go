package store

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"alice@example.com", "alice@example.com"},
		{"  Alice@Example.COM \t", "alice@example.com"},
		{"<Alice@example.com>", "alice@example.com"},
		{"< alice@example.com >", "alice@example.com"},
		{"rfc822;alice@example.com", "alice@example.com"},
		{"RFC822; <Alice@Example.com>", "alice@example.com"},
		{"Alice@Bücher.example", "alice@xn--bcher-kva.example"},
		{"alice@MÜNCHEN.de", "alice@xn--mnchen-3ya.de"},
		{"alice@xn--bcher-kva.example", "alice@xn--bcher-kva.example"},
		{"alice@ＥＸＡＭＰＬＥ.com", "alice@example.com"}, // full-width letters, UTS #46 mapping
		{"Ärger@example.com", "ärger@example.com"}, // RFC 6531 local part, lower-cased
		{"alice@example.com.", "alice@example.com"},
		{"bounces+alice=example.org@bounce.example.com", "bounces+alice=example.org@bounce.example.com"},
		{"a..b.@docomo.ne.jp", "a..b.@docomo.ne.jp"}, // delivered by the provider, so kept
		{"alice@mail_relay.example.com", "alice@mail_relay.example.com"},
		{"alice@[192.0.2.1]", "alice@[192.0.2.1]"},
		{"alice@[IPv6:2001:DB8::1]", "alice@[ipv6:2001:db8::1]"},
		{"o'brien@example.ie", "o'brien@example.ie"},

		{"", ""},
		{"   ", ""},
		{"<>", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"alice smith@example.com", ""},
		{"alice@exa mple.com", ""},
		{"alice\x00@example.com", ""},
		{"alice\r\n@example.com", ""},
		{"alice@example.com\x7f", ""},
		{"a@b@example.com", ""},
		{`"alice"@example.com`, ""},
		{"Alice <alice@example.com>", ""},
		{"alice@example..com", ""},
		{"alice@.example.com", ""},
		{"alice@-example.com", ""},
		{"alice@example/com", ""},
		{"alice@xn--zz.example", ""}, // bad punycode
		{"alice@" + strings.Repeat("a", 64) + ".com", ""},
		{"alice@[192.0.2.1", ""},
		{"alice@[IPv6:192.0.2.1]", ""},
		{"alice@[2001:db8::1]", ""},
		{"\xff@example.com", ""},
		{long + "@" + strings.Repeat(long[:60]+".", 3) + "example.com", ""}, // 268 bytes
		{strings.Repeat("x", 5000) + "@example.com", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Normalize(%q) = %q, want an error", tt.in, got)
			} else if !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("Normalize(%q) error %v does not wrap ErrInvalidAddress", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// A normalised address is a fixed point: the store looks it up again by
// normalising whatever the API is handed, including its own output.
func TestNormalizeIdempotent(t *testing.T) {
	for _, in := range []string{"Alice@Bücher.example", "<B@[IPv6:2001:DB8::1]>", "rfc822; Ärger@Example.com."} {
		once, err := Normalize(in)
		if err != nil {
			t.Fatalf("Normalize(%q): %v", in, err)
		}
		twice, err := Normalize(once)
		if err != nil || twice != once {
			t.Errorf("Normalize(%q) = %q, %v; want %q", once, twice, err, once)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice@example.com", "Alice@Bücher.example", "<a@[1.2.3.4]>", "rfc822;x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		once, err := Normalize(in)
		if err != nil {
			return
		}
		if len(once) > maxAddressLen || strings.ContainsAny(once, " \x00<>") {
			t.Fatalf("Normalize(%q) = %q", in, once)
		}
		twice, err := Normalize(once)
		if err != nil || twice != once {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", in, once, once, twice, err)
		}
	})
}

// plainHost is a shortcut past the IDNA mapping: wherever it says yes, the
// mapping must give the same answer, the lower-cased input.
func TestPlainHostMatchesIDNA(t *testing.T) {
	const alphabet = "aZ09-_.xn"
	rng := rand.New(rand.NewPCG(7, 7))
	yes := 0
	for range 200_000 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		domain := string(b)
		if !plainHost(domain) {
			continue
		}
		yes++
		ascii, err := domainProfile.ToASCII(domain)
		if err == nil {
			if why := checkDomain(ascii); why != "" {
				err = errors.New(why)
			}
		}
		if err != nil || ascii != strings.ToLower(domain) {
			t.Errorf("plainHost(%q) but the IDNA path gives %q, %v", domain, ascii, err)
		}
	}
	if yes < 1000 {
		t.Errorf("only %d plain hosts generated; the test proves little", yes)
	}
}

func BenchmarkNormalize(b *testing.B) {
	for b.Loop() {
		Normalize("<Alice.Smith+news@Mail.Example.COM>")
	}
}
