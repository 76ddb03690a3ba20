package classify

import (
	"regexp"
	"regexp/syntax"
	"slices"
)

// The regexp engine's cost grows with the size of the pattern at every
// byte it looks at, and the classifier's patterns are long alternations
// of which, in a given text, at most one or two alternatives can match.
// So a fastRe also keeps each top-level alternative as a regexp of its own
// with its own literals, and runs only those whose literals occur: the
// leftmost of their matches, the earliest alternative winning a tie, is
// the pattern's match (leftmost-first, as in Perl and RE2).
type alternatives struct {
	alts []alternative
	scan *acMatcher // every alternative's literals, and for a case-insensitive pattern the runes in whose presence they prove nothing
	n    int        // how many literals are the alternatives' own; ids from n on are those runes
	caps int        // capturing groups of the whole pattern
}

type alternative struct {
	re   *regexp.Regexp
	lead *leadRe // nil: run re itself
	lits []int32 // ids in scan
	// caps maps re's groups (1, 2, ...) to the whole pattern's groups.
	caps []int
}

// splitAlternatives returns the alternatives of a top-level alternation,
// or nil when the pattern is not one or some alternative has no literals
// to rule it out by.
func splitAlternatives(parsed *syntax.Regexp, fold bool) *alternatives {
	if parsed.Op != syntax.OpAlternate {
		return nil
	}
	a := &alternatives{caps: parsed.MaxCap()}
	var lits []string
	ids := map[string]int32{}
	for _, sub := range parsed.Sub {
		set := requiredLiterals(sub.Simplify(), fold)
		if set == nil {
			return nil
		}
		re := regexp.MustCompile(sub.String())
		alt := alternative{re: re, caps: capsOf(sub, nil), lead: newLeadRe(sub, re, fold)}
		for _, l := range set {
			id, ok := ids[l]
			if !ok {
				id = int32(len(lits))
				ids[l], lits = id, append(lits, l)
			}
			alt.lits = append(alt.lits, id)
		}
		a.alts = append(a.alts, alt)
	}
	a.n = len(lits)
	if fold {
		a.scan = prefilterScanner(lits, true)
		if a.scan == nil {
			return nil // non-ASCII literals: no single scan for them
		}
	} else {
		a.scan = newACMatcher(lits, false)
	}
	return a
}

// capsOf lists the capturing groups of re in the order a regexp compiled
// from re.String() numbers them.
func capsOf(re *syntax.Regexp, out []int) []int {
	if re.Op == syntax.OpCapture {
		out = append(out, re.Cap)
	}
	for _, sub := range re.Sub {
		out = capsOf(sub, out)
	}
	return out
}

// candidates returns the alternatives whose literals occur in s, or false
// when the literals cannot tell (a rune that case-folds to an ASCII
// letter occurs).
func (a *alternatives) candidates(s string) ([]int, bool) {
	seen := a.scan.find(s)
	for id := a.n; id < len(a.scan.strs); id++ {
		if seen.has(int32(id)) {
			return nil, false
		}
	}
	var out []int
	for i, alt := range a.alts {
		if slices.ContainsFunc(alt.lits, seen.has) {
			out = append(out, i)
		}
	}
	return out, true
}

func (f *fastRe) match(s string) bool {
	if f.start != nil {
		k := f.start(s)
		charge(len(s))
		return k >= 0 && f.Regexp.MatchString(s[k:])
	}
	if f.phrases != nil {
		if loc, ok := f.phrases.index(s); ok {
			return loc != nil
		}
	}
	if f.alts == nil {
		if f.lead != nil {
			if loc, ok := f.lead.find(s); ok {
				return loc != nil
			}
		}
		charge(len(s))
		return f.Regexp.MatchString(s)
	}
	cands, ok := f.alts.candidates(s)
	if !ok {
		charge(len(s))
		return f.Regexp.MatchString(s)
	}
	for _, i := range cands {
		if f.alts.alts[i].find(s) != nil {
			return true
		}
	}
	return false
}

// find is the alternative's FindStringSubmatchIndex.
func (a *alternative) find(s string) []int {
	if a.lead != nil {
		if loc, ok := a.lead.find(s); ok {
			return loc
		}
	}
	charge(len(s))
	return a.re.FindStringSubmatchIndex(s)
}

func (f *fastRe) index(s string) []int {
	if f.start != nil {
		charge(len(s))
		if k := f.start(s); k >= 0 {
			return shift(f.Regexp.FindStringIndex(s[k:]), k)
		}
		return nil
	}
	if f.phrases != nil {
		if loc, ok := f.phrases.index(s); ok {
			return loc
		}
	}
	if f.alts == nil && f.lead == nil {
		charge(len(s))
		return f.Regexp.FindStringIndex(s)
	}
	if loc := f.submatchIndex(s); loc != nil {
		return loc[:2]
	}
	return nil
}

// submatch is FindStringSubmatch without the prefilter.
func (f *fastRe) submatch(s string) []string {
	loc := f.submatchIndex(s)
	if loc == nil {
		return nil
	}
	out := make([]string, len(loc)/2)
	for i := range out {
		if loc[2*i] >= 0 {
			out[i] = s[loc[2*i]:loc[2*i+1]]
		}
	}
	return out
}

// submatchIndex is FindStringSubmatchIndex without the prefilter.
func (f *fastRe) submatchIndex(s string) []int {
	if f.start != nil {
		charge(len(s))
		if k := f.start(s); k >= 0 {
			return shift(f.Regexp.FindStringSubmatchIndex(s[k:]), k)
		}
		return nil
	}
	if f.phrases != nil {
		if loc, ok := f.phrases.index(s); ok {
			return loc // markers have no groups
		}
	}
	if f.alts == nil {
		if f.lead != nil {
			if loc, ok := f.lead.find(s); ok {
				return loc
			}
		}
		charge(len(s))
		return f.Regexp.FindStringSubmatchIndex(s)
	}
	cands, ok := f.alts.candidates(s)
	if !ok {
		charge(len(s))
		return f.Regexp.FindStringSubmatchIndex(s)
	}
	var best []int
	won := -1
	for _, i := range cands {
		loc := f.alts.alts[i].find(s)
		if loc != nil && (best == nil || loc[0] < best[0]) {
			best, won = loc, i
		}
	}
	if best == nil {
		return nil
	}
	out := make([]int, 2*(f.alts.caps+1))
	for i := range out {
		out[i] = -1
	}
	out[0], out[1] = best[0], best[1]
	for j, c := range f.alts.alts[won].caps {
		out[2*c], out[2*c+1] = best[2*(j+1)], best[2*(j+1)+1]
	}
	return out
}
