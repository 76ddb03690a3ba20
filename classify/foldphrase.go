package classify

import "strings"

// A foldPhrases finds what a pattern made by markers finds, without the
// regexp engine: each phrase is words joined by \s+ under (?i), whose
// leftmost match is found by looking for its first word and comparing the
// rest, where the engine would try the whole pattern at every byte of the
// text (it has no literal prefix to skip to, being case-insensitive).
type foldPhrases struct {
	phrases [][]string // per alternative, its words lower-cased; all ASCII
}

// newFoldPhrases returns the matcher of phrases, or nil when one is not
// ASCII, for which ASCII case folding is not (?i)'s.
func newFoldPhrases(phrases []string) *foldPhrases {
	fp := &foldPhrases{}
	for _, p := range phrases {
		words := strings.Fields(strings.ToLower(p))
		if !isASCII(p) || len(words) == 0 {
			return nil
		}
		fp.phrases = append(fp.phrases, words)
	}
	return fp
}

// index returns the leftmost match in s, the earliest phrase winning a
// tie, as the regexp's FindStringIndex would. It reports false when it
// cannot tell: s holds a rune that (?i) matches to an ASCII letter (the
// Kelvin sign for k, the long s for s).
func (fp *foldPhrases) index(s string) (loc []int, ok bool) {
	charge(2 * len(s))
	if strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f") {
		return nil, false
	}
	start, end := -1, -1
	for _, words := range fp.phrases {
		limit := len(s)
		if start >= 0 {
			limit = start - 1 // a later phrase wins only by starting earlier
		}
		if i, j := firstPhrase(s, words, limit); i >= 0 {
			start, end = i, j
		}
	}
	if start < 0 {
		return nil, true
	}
	return []int{start, end}, true
}

// firstPhrase returns the first match of words in s that starts at or
// before limit, and its end, or -1.
func firstPhrase(s string, words []string, limit int) (int, int) {
	first := newFoldFinder(s, words[0])
	for from := 0; from <= limit; {
		i := first.next(from)
		if i < 0 || i > limit {
			return -1, -1
		}
		if end := phraseAt(s, i+len(words[0]), words[1:]); end >= 0 {
			return i, end
		}
		from = i + 1
	}
	return -1, -1
}

// phraseAt matches the words after the first, each after a run of white
// space (\s: [\t\n\f\r ]), from p on; it returns the end or -1. A run of
// white space takes all there is: a word never starts with white space.
func phraseAt(s string, p int, words []string) int {
	for _, w := range words {
		q := p
		for q < len(s) && isRESpace(s[q]) {
			q++
		}
		charge(q - p + len(w))
		if q == p || len(s)-q < len(w) || !equalFoldLower(s[q:q+len(w)], w) {
			return -1
		}
		p = q + len(w)
	}
	return p
}

func isRESpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// A foldFinder finds a word in s, ASCII letters of s matching in either
// case: where the word occurs in lowerASCII(s). It is meant for a word
// without upper-case ASCII letters, which lowerASCII(s) never holds. It
// anchors the search on the byte of the word that is likely the rarest in
// text, which IndexByte finds fast; a letter in both its cases, following
// the next lower-case and the next upper-case one in turn so that no byte
// is looked at twice.
type foldFinder struct {
	s, w           string
	k              int  // the anchor byte's index in w
	lo, up         byte // the anchor byte, in lower and upper case
	nextLo, nextUp int  // -1: none left; -2: not looked for yet
}

func newFoldFinder(s, w string) foldFinder {
	k := 0
	for i := 1; i < len(w); i++ {
		if rarity(w[i]) > rarity(w[k]) {
			k = i
		}
	}
	lo, up := byte(0), byte(0)
	if len(w) > 0 {
		lo, up = w[k], w[k]
		if 'a' <= lo && lo <= 'z' {
			up = lo - ('a' - 'A')
		}
	}
	return foldFinder{s: s, w: w, k: k, lo: lo, up: up, nextLo: -2, nextUp: -2}
}

// letterFrequency lists the letters from the most frequent in English text.
const letterFrequency = "etaoinshrdlcumwfgypbvkjxqz"

// rarity ranks a byte by how seldom text holds it: white space least, then
// the letters by their frequency, punctuation and digits, other bytes.
// A letter, looked for in both cases, ranks as if twice as frequent.
func rarity(c byte) int {
	switch {
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		return 0
	case 'a' <= c && c <= 'z':
		return 1 + strings.IndexByte(letterFrequency, c)/2
	case c >= 0x80 || 'A' <= c && c <= 'Z':
		return 40
	case c == ',' || c == '.' || c == '-':
		return 10
	}
	return 20
}

// next returns the first index at or after from where the word occurs, or -1.
func (f *foldFinder) next(from int) int {
	s, w := f.s, f.w
	if len(w) == 0 {
		if from <= len(s) {
			return from
		}
		return -1
	}
	for from+len(w) <= len(s) {
		at := from + f.k // the anchor is at or after at
		f.nextLo = nextByte(s, f.lo, at, f.nextLo)
		i := f.nextLo
		if f.up != f.lo {
			f.nextUp = nextByte(s, f.up, at, f.nextUp)
			if i < 0 || f.nextUp >= 0 && f.nextUp < i {
				i = f.nextUp
			}
		}
		if i < 0 {
			return -1
		}
		start := i - f.k
		if start+len(w) > len(s) {
			return -1
		}
		charge(len(w))
		if equalFoldLower(s[start:start+len(w)], w) {
			return start
		}
		from = start + 1
	}
	return -1
}

// containsFoldASCIIString reports whether s contains w, a lower-case
// ASCII word, ASCII letters of s matching in either case.
func containsFoldASCIIString(s, w string) bool {
	f := newFoldFinder(s, w)
	return f.next(0) >= 0
}

// nextByte returns the first index of c in s at or after from, given the
// last answer, which still holds if it is not before from.
func nextByte(s string, c byte, from, last int) int {
	if last == -1 || last >= from {
		return last
	}
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		charge(i + 1)
		return from + i
	}
	charge(len(s) - from)
	return -1
}

// equalFoldLower reports whether s is w with any ASCII letters in either
// case; w is lower-case.
func equalFoldLower(s, w string) bool {
	for i := 0; i < len(w); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}
