package api

import (
	"fmt"
	"math"
	"strings"
)

// minTokenDistinct is the fewest different characters a token may have:
// a random token of 128 bits has many more, a made-up one often fewer.
const minTokenDistinct = 10

// checkTokenStrength refuses a token that does not look like at least
// MinTokenBits of randomness: estimated from its length and the
// characters it draws from, with repeats and short patterns refused.
// Nothing can measure the randomness of one string; this catches the
// tokens people make up ("changeme-changeme", a word typed twice), and
// passes those made by `openssl rand -hex 32` or `-base64 32`.
func checkTokenStrength(v string) error {
	const advice = "; make one with: openssl rand -hex 32"
	if bits := tokenBits(v); bits < MinTokenBits {
		return fmt.Errorf("about %.0f bits of entropy, want at least %d (e.g. 32 hex digits or 22 base64 characters)%s",
			bits, MinTokenBits, advice)
	}
	distinct := map[rune]bool{}
	for _, r := range v {
		distinct[r] = true
	}
	if len(distinct) < minTokenDistinct {
		return fmt.Errorf("only %d different characters, want at least %d: not a random token%s", len(distinct), minTokenDistinct, advice)
	}
	for p := 1; p <= len(v)/2; p++ {
		if strings.Repeat(v[:p], len(v)/p+1)[:len(v)] == v {
			return fmt.Errorf("a pattern of %d characters repeated: not a random token%s", p, advice)
		}
	}
	return nil
}

// tokenBits estimates the entropy of v as its length times the bits of
// the smallest alphabet it fits: hex digits (16), or the union of the
// classes it uses (lower case 26, upper case 26, digits 10, other 33).
func tokenBits(v string) float64 {
	var lower, upper, digit, other, hex bool
	hex = true
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hex = false
		}
	}
	alphabet := 0
	for _, c := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if c.used {
			alphabet += c.size
		}
	}
	if hex {
		alphabet = 16
	}
	if alphabet < 2 {
		return 0
	}
	return float64(len([]rune(v))) * math.Log2(float64(alphabet))
}
