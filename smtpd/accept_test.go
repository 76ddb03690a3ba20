package smtpd

import "testing"

func TestAcceptList(t *testing.T) {
	a, err := newAcceptList([]string{"bounces@news.example.com", "@bounce.example.com"}, "+")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rcpt string
		want bool
	}{
		{"bounces@news.example.com", true},
		{"Bounces@NEWS.example.com", true},
		{"bounces+alice=example.org@news.example.com", true},
		{"bounces+anything@news.example.com", true},
		{"anyone@bounce.example.com", true},
		{"anyone+alice=example.org@bounce.example.com", true},

		{"other@news.example.com", false},
		{"other+alice=example.org@news.example.com", false},
		{"bounces+@news.example.com", false},
		{"bounces-alice=example.org@news.example.com", false}, // wrong separator
		{"bounces@sub.bounce.example.com", false},             // domains match exactly
		{"bounces@example.com", false},
		{"postmaster@gmail.com", false}, // never relay
		{"bounces@news.example.com@evil.example", false},
		{"", false},
		{"@bounce.example.com", false},
		{"bounces", false},
	}
	for _, tt := range tests {
		if got := a.accepts(tt.rcpt); got != tt.want {
			t.Errorf("accepts(%q) = %v, want %v", tt.rcpt, got, tt.want)
		}
	}
}

func TestAcceptListRejectsBadEntries(t *testing.T) {
	for _, e := range []string{"", "bounces", "bounces@", "@", "a b@example.com", "<bounces@example.com>"} {
		if _, err := newAcceptList([]string{e}, "+"); err == nil {
			t.Errorf("newAcceptList(%q) succeeded, want an error", e)
		}
	}
}
