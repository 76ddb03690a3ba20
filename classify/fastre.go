package classify

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// fastRe is a regexp with a literal prefilter: every match must contain
// one of lits (lower-cased), so a text containing none of them is rejected
// with a few substring scans instead of a run of the regexp engine. The
// rules are long alternations of phrases, where this saves most of the
// classifier's time.
type fastRe struct {
	re   *regexp.Regexp
	lits []string // nil: no prefilter possible, always run the regexp
	fold bool     // the pattern is case-insensitive: compare lower-cased
}

func mustFastRe(pattern string) *fastRe {
	re := regexp.MustCompile(pattern)
	f := &fastRe{re: re}
	if parsed, err := syntax.Parse(pattern, syntax.Perl); err == nil {
		f.fold = strings.HasPrefix(pattern, "(?i)")
		f.lits = requiredLiterals(parsed.Simplify())
	}
	return f
}

// MatchString reports whether s matches. With fold set, s must be
// lower-case already or the caller accepts that the prefilter is skipped.
func (f *fastRe) MatchString(s string) bool {
	if !f.mayMatch(s) {
		return false
	}
	return f.re.MatchString(s)
}

func (f *fastRe) FindStringSubmatch(s string) []string {
	if !f.mayMatch(s) {
		return nil
	}
	return f.re.FindStringSubmatch(s)
}

func (f *fastRe) FindStringIndex(s string) []int {
	if !f.mayMatch(s) {
		return nil
	}
	return f.re.FindStringIndex(s)
}

func (f *fastRe) mayMatch(s string) bool {
	if f.lits == nil {
		return true
	}
	if f.fold {
		s = strings.ToLower(s)
	}
	for _, l := range f.lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// requiredLiterals returns strings one of which every match must contain,
// or nil when no such set can be named (a leading character class, an
// optional-only pattern, a literal shorter than two bytes).
func requiredLiterals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		s := strings.ToLower(string(re.Rune))
		if len(s) < 2 {
			return nil
		}
		return []string{s}
	case syntax.OpCapture:
		return requiredLiterals(re.Sub[0])
	case syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
		return nil
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l := requiredLiterals(sub)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return out
	case syntax.OpConcat:
		// Pick the child whose set has the longest shortest literal: the
		// most selective necessary condition.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			l := requiredLiterals(sub)
			if l == nil {
				continue
			}
			shortest := len(l[0])
			for _, s := range l {
				shortest = min(shortest, len(s))
			}
			if shortest > bestLen {
				best, bestLen = l, shortest
			}
		}
		return best
	}
	return nil
}
