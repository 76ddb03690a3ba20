package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF protection is the signed double-submit pattern: a random session
// value in an HttpOnly cookie, and in every form a hidden field holding
// its HMAC under a key made when the handler is built. A forged request
// from another site can make the browser send the cookie but cannot read
// it to compute the field, and a cookie planted from a sibling domain is
// useless without the key. Restarting the server voids open forms; the
// page then says to reload.

const (
	csrfCookie = "bouncesink_csrf"
	csrfField  = "csrf"
)

type csrf struct{ key []byte }

func newCSRF() csrf {
	return csrf{key: randomBytes(32)}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

func (c csrf) sign(session string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// token returns the form token for r's session, starting a session (and
// setting its cookie on w) if r has none.
func (c csrf) token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && ck.Value != "" {
		return c.sign(ck.Value)
	}
	session := base64.RawURLEncoding.EncodeToString(randomBytes(24))
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: session, Path: prefix + "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	return c.sign(session)
}

// valid says whether the form of r carries the token of its session.
func (c csrf) valid(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	got := r.PostFormValue(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(c.sign(ck.Value)))
}
