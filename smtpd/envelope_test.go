package smtpd

import (
	"slices"
	"testing"
)

// go-smtp hands on envelope addresses with control characters, quoted or
// not (a NUL, a bare CR, a tab in quotes, DEL): RFC 5321 allows none, and
// such an address is refused, 553, rather than stored. Octets past ASCII,
// valid UTF-8 or not, are taken as they come.
func TestEnvelopeAddressesWithControlCharacters(t *testing.T) {
	m := &memory{}
	_, addr := start(t, m, returnPaths)
	c := rawDial(t, addr)
	c.cmd(t, "EHLO mta.example.net", "250")

	for _, from := range []string{"a\x00b@example.net", "a\rb@example.net", `"a` + "\t" + `b"@example.net`, "a\x7fb@example.net"} {
		c.cmd(t, "MAIL FROM:<"+from+">", "553 5.1.7")
	}
	c.cmd(t, "MAIL FROM:<>", "250")
	for _, rcpt := range []string{"a\x00b@bounce.example.com", "bounces+a\rb=example.org@news.example.com",
		`"a` + "\t" + `b"@bounce.example.com`, "a\x1bb@bounce.example.com"} {
		c.cmd(t, "RCPT TO:<"+rcpt+">", "553 5.1.3")
	}
	c.cmd(t, "RSET", "250")

	eight := []string{"bounces+jos\u00e9=example.org@news.example.com", "l\xe4rm@bounce.example.com"}
	c.cmd(t, "MAIL FROM:<d\xe9mon@example.net>", "250")
	for _, rcpt := range eight {
		c.cmd(t, "RCPT TO:<"+rcpt+">", "250")
	}
	c.cmd(t, "DATA", "354")
	c.cmd(t, "Subject: x\r\n\r\nbody\r\n.", "250")
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.envs) != 1 || m.envs[0].From != "d\xe9mon@example.net" || !slices.Equal(m.envs[0].To, eight) {
		t.Errorf("delivered %+v, want one message from d\\xe9mon to %q", m.envs, eight)
	}
}
