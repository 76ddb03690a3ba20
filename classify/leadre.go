package classify

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// A leadRe runs a regexp only where a match can begin. Every match of the
// regexp begins with one of a few literals, so its leftmost match is at
// the first place where one of them occurs and the regexp, anchored there,
// matches. The engine itself skips ahead to a literal prefix only when the
// pattern is case-sensitive; the classifier's patterns mostly are not, and
// the engine then tries them at every byte of the text.
type leadRe struct {
	leads    []string // ASCII, lower-cased; looked for without regard to case
	anchored *regexp.Regexp
	fold     bool // the pattern is case-insensitive somewhere
}

// Lead literals shorter than minLead occur too often to skip much, and
// more than maxLeads cost more scans than they save.
const (
	minLead  = 3
	maxLeads = 3
)

// newLeadRe returns the leadRe of a parsed pattern (whose source is
// pattern), or nil when its matches do not all begin with a literal.
func newLeadRe(re *syntax.Regexp, pattern string, fold bool) *leadRe {
	leads := leadLiterals(re)
	if leads == nil || len(leads) > maxLeads {
		return nil
	}
	// \A, not ^, which (?m) would make a line start.
	return &leadRe{leads: leads, anchored: regexp.MustCompile(`\A(?:` + pattern + `)`), fold: fold}
}

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
	if l.fold && (strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")) {
		return nil, false
	}
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
		if loc := l.anchored.FindStringSubmatchIndex(s[k:]); loc != nil {
			return shift(loc, k), true
		}
		from = k + 1
	}
}
