package classify

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Literal prefilters. Most of the classifier's patterns are alternations
// of phrases, which the regexp engine tries at every byte of the text. A
// substring search for the literals one of which every match must contain
// rules most texts out far more cheaply; phraseSet (phraseset.go) goes
// further and looks for the literals of many patterns in one pass.

// fastRe is a regexp with a literal prefilter: every match contains one of
// lits, so a text containing none of them is rejected without running the
// regexp engine. The methods it redefines apply the prefilter; the others
// are the regexp's own.
type fastRe struct {
	*regexp.Regexp
	lits []string // nil: no prefilter possible, always run the regexp
	// lowerLits are those of lits that are ASCII without upper-case
	// letters, the only ones an ASCII text can hold once lower-cased
	// (mayMatchASCII).
	lowerLits []string
	// fold: the pattern is case-insensitive somewhere, so lits are what
	// matches become lower-cased (see mayMatchLower).
	fold bool
	ac   *acMatcher // see prefilterScanner
	alts *alternatives
	// phrases, for the patterns markers makes, finds their matches
	// without the regexp engine.
	phrases *foldPhrases
	// start, when set, returns the first index at which a match can
	// begin, or -1 when none can. The pattern has no assertion that looks
	// before a match (^, \b), so the regexp run on the text from there
	// finds the same matches, without trying the bytes before.
	start func(string) int
	// lead, for a pattern that is not split into alternatives, runs it
	// only where its lead literal occurs (leadre.go).
	lead *leadRe
}

// fastRes lists every fastRe made, for the test that each finds what its
// regexp finds.
var fastRes []*fastRe

func mustFastRe(pattern string) *fastRe {
	f := &fastRe{Regexp: regexp.MustCompile(pattern)}
	fastRes = append(fastRes, f)
	if parsed, err := syntax.Parse(pattern, syntax.Perl); err == nil {
		f.fold = hasFoldCase(parsed)
		f.lits = requiredLiterals(parsed.Simplify(), f.fold)
		if f.lits != nil {
			f.ac = prefilterScanner(f.lits, f.fold)
		}
		for _, l := range f.lits {
			if isLowerASCII(l) {
				f.lowerLits = append(f.lowerLits, l)
			}
		}
		f.alts = splitAlternatives(parsed, f.fold)
		if f.alts == nil {
			f.lead = newLeadRe(parsed, f.Regexp, f.fold)
		}
	}
	return f
}

func (f *fastRe) MatchString(s string) bool {
	return f.mayMatch(s) && f.match(s)
}

func (f *fastRe) FindString(s string) string {
	if loc := f.FindStringIndex(s); loc != nil {
		return s[loc[0]:loc[1]]
	}
	return ""
}

func (f *fastRe) FindStringIndex(s string) []int {
	if !f.mayMatch(s) {
		return nil
	}
	return f.index(s)
}

func (f *fastRe) FindStringSubmatch(s string) []string {
	if !f.mayMatch(s) {
		return nil
	}
	return f.submatch(s)
}

func (f *fastRe) FindStringSubmatchIndex(s string) []int {
	if !f.mayMatch(s) {
		return nil
	}
	return f.submatchIndex(s)
}

func (f *fastRe) FindAllString(s string, n int) []string {
	k := f.from(s)
	if k < 0 || !f.mayMatch(s) {
		return nil
	}
	charge(len(s) - k)
	return f.Regexp.FindAllString(s[k:], n)
}

func (f *fastRe) FindAllStringIndex(s string, n int) [][]int {
	k := f.from(s)
	if k < 0 || !f.mayMatch(s) {
		return nil
	}
	charge(len(s) - k)
	return shiftAll(f.Regexp.FindAllStringIndex(s[k:], n), k)
}

func (f *fastRe) FindAllStringSubmatch(s string, n int) [][]string {
	k := f.from(s)
	if k < 0 || !f.mayMatch(s) {
		return nil
	}
	charge(len(s) - k)
	return f.Regexp.FindAllStringSubmatch(s[k:], n)
}

func (f *fastRe) FindAllStringSubmatchIndex(s string, n int) [][]int {
	k := f.from(s)
	if k < 0 || !f.mayMatch(s) {
		return nil
	}
	charge(len(s) - k)
	return shiftAll(f.Regexp.FindAllStringSubmatchIndex(s[k:], n), k)
}

// from is where a match can begin in s (see start), or -1.
func (f *fastRe) from(s string) int {
	if f.start == nil {
		return 0
	}
	return f.start(s)
}

// shift adds k to the indices of loc that are not -1 (an unmatched group).
func shift(loc []int, k int) []int {
	if k != 0 {
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += k
			}
		}
	}
	return loc
}

func shiftAll(locs [][]int, k int) [][]int {
	for _, loc := range locs {
		shift(loc, k)
	}
	return locs
}

func (f *fastRe) ReplaceAllString(src, repl string) string {
	if !f.mayMatch(src) {
		return src
	}
	charge(len(src))
	return f.Regexp.ReplaceAllString(src, repl)
}

// mayMatch is the prefilter: false only if s contains none of the literals.
func (f *fastRe) mayMatch(s string) bool {
	switch {
	case f.lits == nil:
		return true
	case f.ac != nil:
		return f.ac.any(s)
	case f.fold:
		charge(len(s))
		return f.mayMatchLower(strings.ToLower(s))
	}
	return containsAny(s, f.lits)
}

// mayMatchLower is the prefilter of a case-insensitive pattern given the
// text already lower-cased (strings.ToLower). Lower-casing maps every case
// variant of a letter to the one the literals hold, except the long s
// (U+017F), which case-insensitive matching equates with "s": a text that
// contains one is always let through.
func (f *fastRe) mayMatchLower(lower string) bool {
	switch {
	case f.lits == nil:
		return true
	case f.ac != nil && len(f.lits) > fewLiterals:
		return f.ac.any(lower) // the long s is one of its strings
	}
	charge(len(lower))
	return containsAny(lower, f.lits) || strings.Contains(lower, "ſ")
}

// mayMatchASCII is mayMatchLower(strings.ToLower(s)) for an ASCII s,
// which it searches without regard to case instead of lower-casing it.
func (f *fastRe) mayMatchASCII(s string) bool {
	switch {
	case f.lits == nil:
		return true
	case f.ac != nil && len(f.lits) > fewLiterals:
		return f.ac.any(s) // it folds ASCII letters itself
	}
	charge(len(s) * len(f.lits))
	for _, l := range f.lowerLits {
		if l == "" || containsFoldASCIIString(s, l) {
			return true
		}
	}
	return false
}

// isLowerASCII reports whether s is ASCII without upper-case letters.
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// fewLiterals is how many literals substring searches (fast, but one pass
// each) look for before one pass of an acMatcher is cheaper.
const fewLiterals = 3

// prefilterScanner returns the acMatcher that looks for a pattern's
// literals in any text, or nil where substring searches do better. For a
// case-insensitive pattern it compares ASCII letters without regard to
// case, so the literals must be ASCII; besides them it looks for the three
// runes that lower-case or fold to an ASCII letter (İ, K, ſ), in whose
// presence the literals prove nothing.
func prefilterScanner(lits []string, fold bool) *acMatcher {
	if !fold {
		if len(lits) <= fewLiterals {
			return nil
		}
		return newACMatcher(lits, false)
	}
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			if l[i] >= utf8.RuneSelf {
				return nil
			}
		}
	}
	return newACMatcher(append(slices.Clip(lits), "\u0130", "\u212a", "\u017f"), true)
}

func containsAny(s string, lits []string) bool {
	charge(len(s) * len(lits))
	for _, l := range lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// hasFoldCase reports whether any part of a pattern is case-insensitive.
func hasFoldCase(re *syntax.Regexp) bool {
	if re.Flags&syntax.FoldCase != 0 && (re.Op == syntax.OpLiteral || re.Op == syntax.OpCharClass) {
		return true
	}
	for _, sub := range re.Sub {
		if hasFoldCase(sub) {
			return true
		}
	}
	return false
}

// maxExpand bounds the strings a finite part of a pattern is expanded into.
const maxExpand = 64

// expand returns the strings a (simplified) pattern matches, when they are
// few: at most maxExpand, and no unbounded repetition or "any character".
// Assertions (\b, ^, $) count as the empty string, so the set is exactly
// the pattern's language only when pure is true; otherwise every match
// still is one of the strings. With lower set, the strings are what the
// matches become under strings.ToLower (see mayMatchLower for the long s).
func expand(re *syntax.Regexp, lower bool) (set []string, pure, ok bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true, true
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, false, true
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			c, ok := literalRune(r, re.Flags&syntax.FoldCase != 0, lower)
			if !ok {
				return nil, false, false
			}
			b.WriteRune(c)
		}
		return []string{b.String()}, true, true
	case syntax.OpCharClass:
		n := 0
		for i := 0; i < len(re.Rune); i += 2 {
			n += int(re.Rune[i+1]-re.Rune[i]) + 1
			if n > maxExpand {
				return nil, false, false
			}
		}
		for i := 0; i < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if lower {
					set = append(set, string(unicode.ToLower(r)))
				} else {
					set = append(set, string(r))
				}
			}
		}
		return dedupe(set), true, true
	case syntax.OpCapture:
		return expand(re.Sub[0], lower)
	case syntax.OpQuest:
		set, pure, ok := expand(re.Sub[0], lower)
		if !ok || len(set) >= maxExpand {
			return nil, false, false
		}
		return dedupe(append(set, "")), pure, true
	case syntax.OpConcat:
		return expandConcat(re.Sub, lower)
	case syntax.OpAlternate:
		pure = true
		for _, sub := range re.Sub {
			s, p, ok := expand(sub, lower)
			if !ok || len(set)+len(s) > maxExpand {
				return nil, false, false
			}
			set, pure = append(set, s...), pure && p
		}
		return dedupe(set), pure, true
	}
	return nil, false, false // repetition, any character, no match
}

// expandConcat expands a sequence of patterns into the product of their sets.
func expandConcat(subs []*syntax.Regexp, lower bool) (set []string, pure, ok bool) {
	set, pure = []string{""}, true
	for _, sub := range subs {
		s, p, ok := expand(sub, lower)
		if !ok || len(set)*len(s) > maxExpand {
			return nil, false, false
		}
		var next []string
		for _, a := range set {
			for _, b := range s {
				next = append(next, a+b)
			}
		}
		set, pure = dedupe(next), pure && p
	}
	return set, pure, true
}

// literalRune returns the rune a literal character becomes in the text the
// literals are looked for in. A case-insensitive letter is only usable
// there if lower-casing maps all its case variants to one rune.
func literalRune(r rune, fold, lower bool) (rune, bool) {
	if !fold {
		if lower {
			return unicode.ToLower(r), true
		}
		return r, true
	}
	if !lower {
		return 0, false
	}
	c := unicode.ToLower(r)
	for v := unicode.SimpleFold(r); v != r; v = unicode.SimpleFold(v) {
		if unicode.ToLower(v) != c && v != 'ſ' {
			return 0, false
		}
	}
	return c, true
}

// requiredLiterals returns strings one of which every match of a
// (simplified) pattern contains, or nil when it finds no such set whose
// strings are all at least two bytes long. Of the candidates (a finite
// run of a sequence expanded, or one element's own set) it keeps the one
// whose shortest string is longest, the most selective condition.
func requiredLiterals(re *syntax.Regexp, lower bool) []string {
	if set, _, ok := expand(re, lower); ok && shortest(set) >= 2 {
		return set
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0], lower)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0], lower)
		}
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l := requiredLiterals(sub, lower)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return dedupe(out)
	case syntax.OpConcat:
		var best []string
		for i := range re.Sub {
			best = better(best, requiredLiterals(re.Sub[i], lower))
			for j := i + 1; j <= len(re.Sub); j++ {
				set, _, ok := expandConcat(re.Sub[i:j], lower)
				if !ok {
					break
				}
				best = better(best, set)
			}
		}
		return best
	}
	return nil
}

func better(best, cand []string) []string {
	n := shortest(cand)
	if n < 2 {
		return best
	}
	if best == nil || n > shortest(best) || n == shortest(best) && len(cand) < len(best) {
		return cand
	}
	return best
}

func shortest(set []string) int {
	if len(set) == 0 {
		return 0
	}
	n := len(set[0])
	for _, s := range set[1:] {
		n = min(n, len(s))
	}
	return n
}

func dedupe(set []string) []string {
	out := set[:0]
	seen := make(map[string]bool, len(set))
	for _, s := range set {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
