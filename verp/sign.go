package verp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Signed return paths
//
// A signed return path names the original recipient and proves that this
// sink's keys made it, so a bounce to it cannot be forged to name someone
// else:
//
//	bounces+alice=example.org.apd3.aoqlrhftkuu4jc@bounce.example.com
//	base   +recipient tag    .exp .key id "a", then the MAC @domain
//
// The expiry is a time in whole hours since 1970, base 36. The key id is
// 1 to 8 of [a-z0-9], written straight before the MAC: the first 64 bits
// of HMAC-SHA256 under that key over the key id, the return path it was
// made from, the tag and the expiry, in lower-case base32 (13 characters).
//
// The recipient tag takes the first of three forms that fits the 64 octets
// RFC 5321 s4.5.3.1.1 allows a local part:
//
//   - local=domain (the Mailgun VERP convention), when the address, lower-
//     cased with its domain in IDNA ASCII form, has only letters, digits
//     and . _ - + = ' in its local part, and that local part does not start
//     with "x-" or "h-" (which would read as one of the forms below: such
//     addresses take the x- form);
//   - x-<base32 of the address>, for any other address;
//   - h-<base32 of 64 bits of its SHA-256>, when neither fits. The sink
//     cannot read the address back from it; it accepts a report's claim
//     about a recipient only if the claimed address has that hash.
//
// With the local part "bounces", the separator "+" and a one-character key
// id, the local=domain form fits addresses of up to 36 characters (each
// character less in the base local part or key id leaves one more).
//
// Everything is lower case, so a relay that folds the case of the return
// path breaks nothing; the recipient is kept lower-cased, as the store
// keeps addresses anyway.

// The errors Verify returns.
var (
	ErrUnsigned     = errors.New("verp: return path is not signed")
	ErrBadSignature = errors.New("verp: return path signature is not valid")
	ErrExpired      = errors.New("verp: return path signature has expired")
)

// DefaultLifetime is how long a signature stays valid when
// SignerOptions.Lifetime is zero: long enough for delayed bounces (queues
// give up after about five days), auto-replies and complaints sent late.
const DefaultLifetime = 30 * 24 * time.Hour

const (
	macLen       = 13 // base32 characters of a 64-bit MAC
	maxKeyIDLen  = 8
	minSecretLen = 16
	maxLocalLen  = 64 // RFC 5321 s4.5.3.1.1
	hashPrefix   = "h-"
	b32Prefix    = "x-"
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is one signing key. Its ID is written in every return path it signs,
// so that after a rotation the sink knows which key to verify with.
type Key struct {
	ID     string // 1 to 8 of [a-z0-9]
	Secret []byte // at least 16 bytes; 32 random bytes are best
}

// SignerOptions configure a Signer.
type SignerOptions struct {
	// Keys verify signatures; the first one also makes them. To rotate,
	// put a new key first and keep the old one until its last signatures
	// have expired.
	Keys      []Key
	Lifetime  time.Duration // zero means DefaultLifetime
	Separator string        // between the base local part and the tag; "" means "+"
}

// Signer makes and checks signed return paths. It is safe for concurrent use.
type Signer struct {
	sign     Key
	keys     map[string][]byte
	lifetime time.Duration
	sep      string
}

// NewSigner checks the keys and returns a Signer.
func NewSigner(o SignerOptions) (*Signer, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("verp: no signing keys")
	}
	s := &Signer{sign: o.Keys[0], keys: map[string][]byte{}, lifetime: o.Lifetime, sep: o.Separator}
	if s.lifetime == 0 {
		s.lifetime = DefaultLifetime
	}
	if s.lifetime < time.Hour {
		return nil, fmt.Errorf("verp: lifetime %s: want at least an hour", s.lifetime)
	}
	if s.sep == "" {
		s.sep = "+"
	}
	if strings.ContainsAny(s.sep, "@=.") {
		return nil, fmt.Errorf("verp: separator %q: want one without @, = or .", s.sep)
	}
	for _, k := range o.Keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("verp: key id %q: want 1 to %d of a-z and 0-9", k.ID, maxKeyIDLen)
		}
		if len(k.Secret) < minSecretLen {
			return nil, fmt.Errorf("verp: key %q: secret shorter than %d bytes", k.ID, minSecretLen)
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("verp: key id %q given twice", k.ID)
		}
		s.keys[k.ID] = k.Secret
	}
	return s, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Sign returns the return path for a message to recipient, built from
// returnPath ("bounces@bounce.example.com") and valid until now plus the
// lifetime (rounded up to the hour).
func (s *Signer) Sign(returnPath, recipient string, now time.Time) (string, error) {
	local, domain, ok := splitAddr(strings.ToLower(strings.TrimSpace(returnPath)))
	if !ok || strings.Contains(local, s.sep) || !dotAtom(local) {
		return "", fmt.Errorf("verp: return path %q: want local@domain, without %q in the local part", returnPath, s.sep)
	}
	rcpt, err := Canonical(recipient)
	if err != nil {
		return "", err
	}
	exp := strconv.FormatInt((now.Add(s.lifetime).Unix()+3599)/3600, 36)
	fixed := len(local) + len(s.sep) + len(".") + len(exp) + len(".") + len(s.sign.ID) + macLen
	tag := recipientTag(rcpt, maxLocalLen-fixed)
	if tag == "" {
		return "", fmt.Errorf("verp: return path %q leaves no room for a signature in %d octets", returnPath, maxLocalLen)
	}
	mac := s.mac(s.sign.ID, s.sign.Secret, local+"@"+domain, tag, exp)
	return local + s.sep + tag + "." + exp + "." + s.sign.ID + mac + "@" + domain, nil
}

// recipientTag returns the first form of the tag for rcpt (canonical)
// that fits in room characters, or "" when none does. The three forms are
// told apart by their first two characters, so no plain tag may start the
// way the other two do (before this rule, x-ray@example.org was signed as
// the plain tag "x-ray=example.org", which Verify read as base32 and
// refused; no return path that verified is read differently now).
func recipientTag(rcpt string, room int) string {
	at := strings.LastIndexByte(rcpt, '@')
	if plain := rcpt[:at] + "=" + rcpt[at+1:]; plainLocal(rcpt[:at]) && !taggedForm(plain) && len(plain) <= room {
		return plain
	}
	if enc := b32Prefix + b32.EncodeToString([]byte(rcpt)); len(enc) <= room {
		return enc
	}
	if h := hashPrefix + addrHash(rcpt); len(h) <= room {
		return h
	}
	return ""
}

// taggedForm reports whether a tag starts the way the x- and h- forms do.
func taggedForm(tag string) bool {
	return strings.HasPrefix(tag, b32Prefix) || strings.HasPrefix(tag, hashPrefix)
}

// plainLocal reports whether a local part can go into a tag as it is.
func plainLocal(local string) bool {
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("._-+='", c) >= 0) {
			return false
		}
	}
	return dotAtom(local)
}

// dotAtom reports whether s has no leading, trailing or doubled dot.
func dotAtom(s string) bool {
	return s != "" && s[0] != '.' && s[len(s)-1] != '.' && !strings.Contains(s, "..")
}

func addrHash(rcpt string) string {
	sum := sha256.Sum256([]byte("bouncesink verp recipient\x00" + rcpt))
	return b32.EncodeToString(sum[:8])
}

func (s *Signer) mac(keyID string, secret []byte, base, tag, exp string) string {
	h := hmac.New(sha256.New, secret)
	for _, part := range []string{"bouncesink verp v1", keyID, base, tag, exp} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return b32.EncodeToString(h.Sum(nil)[:8])
}

// Signed is what a signed return path says.
type Signed struct {
	ReturnPath string    // the address it was built from, lower-cased
	Recipient  string    // the original recipient, canonical; "" if only its hash fitted
	KeyID      string    // the key that signed it
	Expires    time.Time // the first instant it is no longer valid
	hash       string    // of the recipient, for the h- form
}

// Names reports whether addr is the recipient the signature names, in any
// case and with its domain in Unicode or ASCII.
func (sg Signed) Names(addr string) bool {
	c, err := Canonical(addr)
	if err != nil {
		return false
	}
	if sg.Recipient != "" {
		return c == sg.Recipient
	}
	return sg.hash != "" && hmac.Equal([]byte(addrHash(c)), []byte(sg.hash))
}

// Verify checks a signed return path against the keys and the clock. The
// error is nil for a valid signature, ErrUnsigned for an address that
// carries none, ErrBadSignature for one that no key made, and ErrExpired
// for one a key made that has expired; with ErrExpired the returned Signed
// is filled in (the signature is genuine, only old).
func (s *Signer) Verify(addr string, now time.Time) (Signed, error) {
	base, tag, ok := Split(strings.ToLower(strings.TrimSpace(addr)), s.sep)
	if !ok {
		return Signed{}, ErrUnsigned
	}
	dot2 := strings.LastIndexByte(tag, '.')
	dot1 := strings.LastIndexByte(tag[:max(dot2, 0)], '.')
	if dot1 <= 0 || len(tag)-dot2-1 <= macLen {
		return Signed{}, ErrUnsigned
	}
	rtag, exp, signature := tag[:dot1], tag[dot1+1:dot2], tag[dot2+1:]
	hours, err := strconv.ParseInt(exp, 36, 64)
	if err != nil || hours <= 0 || hours > 1<<40 {
		return Signed{}, ErrUnsigned
	}
	keyID, mac := signature[:len(signature)-macLen], signature[len(signature)-macLen:]
	secret, ok := s.keys[keyID]
	if !ok {
		return Signed{}, fmt.Errorf("%w: unknown key %q", ErrBadSignature, keyID)
	}
	if !hmac.Equal([]byte(s.mac(keyID, secret, base, rtag, exp)), []byte(mac)) {
		return Signed{}, ErrBadSignature
	}
	sg := Signed{ReturnPath: base, KeyID: keyID, Expires: time.Unix(hours*3600, 0).UTC()}
	if sg.Recipient, sg.hash, ok = decodeTag(rtag); !ok {
		return Signed{}, fmt.Errorf("%w: undecodable recipient tag", ErrBadSignature)
	}
	if !now.Before(sg.Expires) {
		return sg, ErrExpired
	}
	return sg, nil
}

// decodeTag reads a recipient tag made by recipientTag.
func decodeTag(tag string) (rcpt, hash string, ok bool) {
	switch {
	case strings.HasPrefix(tag, hashPrefix):
		h := tag[len(hashPrefix):]
		return "", h, len(h) == macLen
	case strings.HasPrefix(tag, b32Prefix):
		b, err := b32.DecodeString(tag[len(b32Prefix):])
		if err != nil {
			return "", "", false
		}
		rcpt = string(b)
	default:
		eq := strings.LastIndexByte(tag, '=')
		if eq <= 0 {
			return "", "", false
		}
		rcpt = tag[:eq] + "@" + tag[eq+1:]
	}
	c, err := Canonical(rcpt)
	return c, "", err == nil && c == rcpt
}

// domainProfile maps a domain as a resolver would (UTS #46: case folding,
// punycode), accepting the underscores found in real mail domains.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// Canonical returns the form of an address that signatures name: trimmed,
// lower-cased, the domain in IDNA ASCII form without a trailing dot.
func Canonical(addr string) (string, error) {
	local, domain, ok := splitAddr(strings.TrimSpace(addr))
	if !ok || len(addr) > 1024 || strings.ContainsFunc(local, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`"<>@\`, r)
	}) {
		return "", fmt.Errorf("verp: recipient %q: not an address", addr)
	}
	domain, err := domainProfile.ToASCII(strings.TrimSuffix(domain, "."))
	domain = strings.ToLower(domain)
	if err != nil || !hostName(domain) {
		return "", fmt.Errorf("verp: recipient %q: bad domain", addr)
	}
	return strings.ToLower(local) + "@" + domain, nil
}

// hostName reports whether domain is dot-separated labels of a-z, 0-9, _ and -.
func hostName(domain string) bool {
	for i := 0; i < len(domain); i++ {
		if c := domain[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return dotAtom(domain)
}

// splitAddr splits at the last @; ok is false unless both sides are non-empty.
func splitAddr(addr string) (local, domain string, ok bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", "", false
	}
	return addr[:at], addr[at+1:], true
}
