package classify

import (
	"regexp"
	"regexp/syntax"
)

// A phraseSet is an ordered list of patterns, each an alternation of
// phrases, of which it finds the first that matches a text. Every pattern
// is split into its top-level alternatives ("branches"), and the literals
// of all branches are looked for in one pass over the text: a branch that
// is a plain list of strings matches when one of them was seen, and the
// regexp of any other branch runs only when one of its required literals
// was seen. A text thus costs one scan plus a few small regexps, however
// many phrases the list holds.
//
// The patterns are matched as they are (case-sensitively); the text rules
// run on lower-cased text.
type phraseSet struct {
	branches [][]phraseBranch // per pattern
	lits     *acMatcher
}

type phraseBranch struct {
	re   *regexp.Regexp // nil: the branch is exactly its literals
	lits []int32        // literal ids; empty: no prefilter, always run re
}

func newPhraseSet(patterns []string) *phraseSet {
	ps := &phraseSet{branches: make([][]phraseBranch, len(patterns))}
	var lits []string
	ids := map[string]int32{}
	idsOf := func(set []string) []int32 {
		var out []int32
		for _, s := range set {
			id, ok := ids[s]
			if !ok {
				id = int32(len(lits))
				ids[s], lits = id, append(lits, s)
			}
			out = append(out, id)
		}
		return out
	}
	for i, p := range patterns {
		parsed, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			panic("classify: phrase pattern " + p + ": " + err.Error())
		}
		alts := []*syntax.Regexp{parsed}
		if parsed.Op == syntax.OpAlternate {
			alts = parsed.Sub
		}
		for _, alt := range alts {
			simple := alt.Simplify()
			if set, pure, ok := expand(simple, false); ok && pure && shortest(set) >= 1 {
				ps.branches[i] = append(ps.branches[i], phraseBranch{lits: idsOf(set)})
				continue
			}
			ps.branches[i] = append(ps.branches[i], phraseBranch{
				re:   regexp.MustCompile(alt.String()),
				lits: idsOf(requiredLiterals(simple, false)),
			})
		}
	}
	ps.lits = newACMatcher(lits, false)
	return ps
}

// first returns the index of the first pattern that matches s, or -1.
func (ps *phraseSet) first(s string) int { return ps.firstWhere(s, nil) }

// firstWhere is first restricted to the patterns keep accepts (all of
// them when keep is nil).
func (ps *phraseSet) firstWhere(s string, keep func(int) bool) int {
	seen := ps.lits.find(s)
	for i, branches := range ps.branches {
		if keep != nil && !keep(i) {
			continue
		}
		for _, b := range branches {
			if b.matches(s, seen) {
				return i
			}
		}
	}
	return -1
}

func (b *phraseBranch) matches(s string, seen bitset) bool {
	if len(b.lits) > 0 {
		found := false
		for _, id := range b.lits {
			if seen.has(id) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if b.re == nil {
		return true
	}
	charge(len(s))
	return b.re.MatchString(s)
}

type bitset []uint64

func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) set(i int32)      { b[i>>6] |= 1 << (i & 63) }

// An acMatcher finds which of a set of strings occur in a text in one pass
// (Aho and Corasick, "Efficient string matching", 1975): a trie of the
// strings whose every state also knows where to go on any byte, so the
// scan is one table look-up per byte of text. With fold, ASCII letters
// match either case.
type acMatcher struct {
	strs  []string
	class [256]byte // byte -> column; 0 for bytes no string contains
	cols  int
	next  []int32   // state*cols + column -> state
	out   [][]int32 // state -> ids of the strings that end there
}

func newACMatcher(strs []string, fold bool) *acMatcher {
	ac := &acMatcher{strs: strs, cols: 1}
	for _, s := range strs {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if fold && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if ac.class[c] == 0 {
				ac.class[c] = byte(ac.cols)
				ac.cols++
			}
		}
	}
	if fold {
		for c := 'A'; c <= 'Z'; c++ {
			ac.class[c] = ac.class[c+'a'-'A']
		}
	}
	// The trie; 0 in next means "no edge" until the links are filled in.
	ac.next = make([]int32, ac.cols)
	ac.out = make([][]int32, 1)
	for id, s := range strs {
		st := int32(0)
		for i := 0; i < len(s); i++ {
			c := int32(ac.class[s[i]])
			if ac.next[st*int32(ac.cols)+c] == 0 {
				ac.next[st*int32(ac.cols)+c] = int32(len(ac.out))
				ac.next = append(ac.next, make([]int32, ac.cols)...)
				ac.out = append(ac.out, nil)
			}
			st = ac.next[st*int32(ac.cols)+c]
		}
		ac.out[st] = append(ac.out[st], int32(id))
	}
	// Breadth first, point each missing edge where the longest proper
	// suffix that is in the trie would go, and inherit that suffix's output.
	fail := make([]int32, len(ac.out))
	queue := []int32{}
	for c := 1; c < ac.cols; c++ {
		if t := ac.next[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		for c := 1; c < ac.cols; c++ {
			i := st*int32(ac.cols) + int32(c)
			fallback := ac.next[fail[st]*int32(ac.cols)+int32(c)]
			if t := ac.next[i]; t != 0 {
				fail[t] = fallback
				ac.out[t] = append(ac.out[t], ac.out[fallback]...)
				queue = append(queue, t)
			} else {
				ac.next[i] = fallback
			}
		}
	}
	return ac
}

// any reports whether any of the strings occurs in s.
func (ac *acMatcher) any(s string) bool {
	st := int32(0)
	cols := int32(ac.cols)
	for i := 0; i < len(s); i++ {
		st = ac.next[st*cols+int32(ac.class[s[i]])]
		if len(ac.out[st]) > 0 {
			charge(i + 1)
			return true
		}
	}
	charge(len(s))
	return false
}

// find returns the set of ids of the strings that occur in s.
func (ac *acMatcher) find(s string) bitset {
	seen := make(bitset, (len(ac.strs)+63)/64)
	charge(len(s))
	st := int32(0)
	cols := int32(ac.cols)
	for i := 0; i < len(s); i++ {
		st = ac.next[st*cols+int32(ac.class[s[i]])]
		for _, id := range ac.out[st] {
			seen.set(id)
		}
	}
	return seen
}
