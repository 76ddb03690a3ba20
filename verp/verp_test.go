package verp

import "testing"

func TestDecode(t *testing.T) {
	tests := []struct {
		addr, sep string
		want      string
		ok        bool
	}{
		{"bounces+alice=example.org@bounce.example.com", "+", "alice@example.org", true},
		{"bounces-alice=example.org@bounce.example.com", "-", "alice@example.org", true},
		{"bounces--alice=example.org@bounce.example.com", "--", "alice@example.org", true},
		// The original local part keeps its own '+' and '='.
		{"bounces+alice+news=example.org@bounce.example.com", "+", "alice+news@example.org", true},
		{"bounces+a=b=example.org@bounce.example.com", "+", "a=b@example.org", true},
		{"bounces+Alice=Example.ORG@bounce.example.com", "+", "Alice@Example.ORG", true},
		{"bounces+alice=mail.example.co.uk@b.example.com", "+", "alice@mail.example.co.uk", true},

		{"bounces@bounce.example.com", "+", "", false},            // no tag
		{"bounces+@bounce.example.com", "+", "", false},           // empty tag
		{"+alice=example.org@bounce.example.com", "+", "", false}, // no return-path local part
		{"bounces+alice@bounce.example.com", "+", "", false},      // tag without '='
		{"bounces+=example.org@bounce.example.com", "+", "", false},
		{"bounces+alice=@bounce.example.com", "+", "", false},
		{"bounces+alice=.example.org@bounce.example.com", "+", "", false},
		{"bounces+alice=example.org.@bounce.example.com", "+", "", false},
		{"bounces+alice=example.org@", "+", "", false},
		{"bounces+alice=example.org", "+", "", false}, // no domain at all
		{"bounces+alice=example.org@bounce.example.com", "", "", false},
		{"bounces+alice=example.org@bounce.example.com", "-", "", false},
		{"", "+", "", false},
		{"@", "+", "", false},
		{"+=@", "+", "", false},
		{"bounces+al ice=example.org@bounce.example.com", "+", "", false},
	}
	for _, tt := range tests {
		got, ok := Decode(tt.addr, tt.sep)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Decode(%q, %q) = %q, %v; want %q, %v", tt.addr, tt.sep, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		addr, base, tag string
		ok              bool
	}{
		{"bounces+alice=example.org@bounce.example.com", "bounces@bounce.example.com", "alice=example.org", true},
		{"bounces+x@news.example.com", "bounces@news.example.com", "x", true},
		{"bounces@news.example.com", "", "", false},
		{"bounces+x", "", "", false},
	}
	for _, tt := range tests {
		base, tag, ok := Split(tt.addr, "+")
		if base != tt.base || tag != tt.tag || ok != tt.ok {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q, %v", tt.addr, base, tag, ok, tt.base, tt.tag, tt.ok)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("bounces+alice=example.org@bounce.example.com", "+")
	f.Add("+=@", "+")
	f.Fuzz(func(t *testing.T, addr, sep string) {
		got, ok := Decode(addr, sep)
		if ok && (got == "" || got[0] == '@' || got[len(got)-1] == '@') {
			t.Errorf("Decode(%q, %q) = %q, true", addr, sep, got)
		}
	})
}
