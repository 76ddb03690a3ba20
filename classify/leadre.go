package classify

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A leadRe runs a regexp only where a match can begin. Every match of the
// regexp begins with one of a few literals, so its leftmost match is at
// the first place where one of them occurs and the regexp, anchored there,
// matches. The engine itself skips ahead to a literal prefix only when the
// pattern is case-sensitive; the classifier's patterns mostly are not, and
// the engine then tries them at every byte of the text.
//
// Trying the anchored regexp at every occurrence of a lead costs, for a
// pattern that can scan far before it fails, the occurrences times the
// text after them: "MSEXCH:" repeated on one long line made a search of
// `MSEXCH:[^\s]*\s+...` quadratic. So an attempt is handed only the bytes a
// match can span (maxLen, when the pattern bounds it), and the attempts
// together at most about twice the text; past that, the regexp itself runs
// once from the current occurrence, which the engine does in time linear
// in the text (it tries every start position at once).
type leadRe struct {
	leads    []string // ASCII, lower-cased; looked for without regard to case
	anchored *regexp.Regexp
	re       *regexp.Regexp // the pattern unanchored, for the linear fallback
	fold     bool           // the pattern is case-insensitive somewhere
	// maxLen is the most bytes a match can span, or -1 when unbounded.
	maxLen int
}

// Lead literals shorter than minLead occur too often to skip much, and
// more than maxLeads cost more scans than they save.
const (
	minLead  = 3
	maxLeads = 3
)

// newLeadRe returns the leadRe of a parsed pattern, compiled as
// unanchored, or nil when its matches do not all begin with a literal.
func newLeadRe(re *syntax.Regexp, unanchored *regexp.Regexp, fold bool) *leadRe {
	leads := leadLiterals(re)
	if leads == nil || len(leads) > maxLeads {
		return nil
	}
	return &leadRe{
		leads: leads,
		// \A, not ^, which (?m) would make a line start.
		anchored: regexp.MustCompile(`\A(?:` + unanchored.String() + `)`),
		re:       unanchored,
		fold:     fold,
		maxLen:   maxMatchLen(re),
	}
}

// leadSlack is what the anchored attempts may be handed beyond twice the
// text: on a short text, a few attempts at a pattern without a bound.
const leadSlack = 4 << 10

// leadLiterals returns strings one of which every match of re begins
// with, lower-cased, or nil. A match begins with a literal even under
// (?i): the only runes that (?i) matches to an ASCII letter of another
// case are the Kelvin sign and the long s, which find rules out first.
// With no assertion before it, the literal also means the regexp looks at
// nothing before the start of a match.
func leadLiterals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !isASCII(s) || len(s) < minLead {
			return nil
		}
		return []string{strings.ToLower(s)}
	case syntax.OpCapture:
		return leadLiterals(re.Sub[0])
	case syntax.OpConcat:
		if len(re.Sub) > 0 {
			return leadLiterals(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l := leadLiterals(sub)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return dedupe(out)
	}
	return nil
}

// find returns the leftmost match in s and its groups, as the regexp's
// FindStringSubmatchIndex does. It reports false when it cannot tell: the
// pattern is case-insensitive and s holds a Kelvin sign or a long s.
func (l *leadRe) find(s string) ([]int, bool) {
	if l.fold {
		charge(2 * len(s))
		if strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f") {
			return nil, false
		}
	}
	budget := 2*len(s) + leadSlack
	var finders [maxLeads]foldFinder
	var next [maxLeads]int
	for i, w := range l.leads {
		finders[i], next[i] = newFoldFinder(s, w), -2
	}
	for from := 0; ; {
		k := -1
		for i := range l.leads {
			if next[i] != -1 && next[i] < from {
				next[i] = finders[i].next(from)
			}
			if next[i] >= 0 && (k < 0 || next[i] < k) {
				k = next[i]
			}
		}
		if k < 0 {
			return nil, true
		}
		// No match begins before k, nor looks before it (see
		// leadLiterals): the bytes after a match's longest span and the
		// rune after it (whose first byte \b and $ look at) tell nothing.
		end := len(s)
		if l.maxLen >= 0 {
			end = min(end, k+l.maxLen+utf8.UTFMax)
		}
		if end-k > budget {
			charge(len(s) - k)
			return shift(l.re.FindStringSubmatchIndex(s[k:]), k), true
		}
		budget -= end - k
		charge(end - k)
		if loc := l.anchored.FindStringSubmatchIndex(s[k:end]); loc != nil {
			return shift(loc, k), true
		}
		from = k + 1
	}
}

// maxMatchLen returns the most bytes a match of re can span, or -1 when
// that is unbounded.
func maxMatchLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += maxRuneLen(r, re.Flags&syntax.FoldCase != 0)
		}
		return n
	case syntax.OpCharClass:
		n := 0
		for i := 1; i < len(re.Rune); i += 2 {
			n = max(n, runeLen(re.Rune[i]))
		}
		return n
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpStar, syntax.OpPlus:
		if maxMatchLen(re.Sub[0]) == 0 {
			return 0
		}
		return -1
	case syntax.OpRepeat:
		n := maxMatchLen(re.Sub[0])
		switch {
		case n == 0:
			return 0
		case n < 0 || re.Max < 0:
			return -1
		}
		return n * re.Max
	case syntax.OpQuest, syntax.OpCapture:
		return maxMatchLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, sub := range re.Sub {
			k := maxMatchLen(sub)
			if k < 0 {
				return -1
			}
			n += k
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, sub := range re.Sub {
			k := maxMatchLen(sub)
			if k < 0 {
				return -1
			}
			n = max(n, k)
		}
		return n
	}
	return 0 // empty matches and assertions
}

// maxRuneLen is the longest UTF-8 encoding of what a literal rune matches:
// under (?i), any rune of its case-folding orbit (k matches the Kelvin sign).
func maxRuneLen(r rune, fold bool) int {
	n := runeLen(r)
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			n = max(n, runeLen(f))
		}
	}
	return n
}

// runeLen is the length of r in UTF-8, counting what utf8 does not encode
// (surrogates, beyond the last rune) as its widest.
func runeLen(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return utf8.UTFMax
}
