package classify

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// naiveFirst is what a phraseSet must equal: the first pattern whose
// regexp matches.
func naiveFirst(res []*regexp.Regexp, s string) int {
	for i, re := range res {
		if re.MatchString(s) {
			return i
		}
	}
	return -1
}

func compileAll(patterns []string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		out[i] = regexp.MustCompile(p)
	}
	return out
}

// phraseSamples builds texts around the literals of a phrase set: each
// literal alone, cut short, and run into others and into filler, so that
// every branch is tried both where its literals occur and where they
// nearly do.
func phraseSamples(ps *phraseSet, n int) []string {
	lits := ps.lits.strs
	filler := []string{" ", "  ", "-", ".", ":", "'", "s", "ed", "a ", "the ", "is ", "not ", "550 ", "5.1.1 ", "<a@b.example>", "\n", "ſ", "K", "é", "\xff"}
	var out []string
	for _, l := range lits {
		out = append(out, l, " "+l+" ", l[:len(l)/2], l[1:])
	}
	rng := rand.New(rand.NewSource(1))
	for range n {
		var b strings.Builder
		for k := rng.Intn(5); k >= 0; k-- {
			if rng.Intn(3) == 0 {
				b.WriteString(filler[rng.Intn(len(filler))])
				continue
			}
			l := lits[rng.Intn(len(lits))]
			if rng.Intn(4) == 0 {
				l = l[:rng.Intn(len(l)+1)]
			}
			b.WriteString(l)
			if rng.Intn(2) == 0 {
				b.WriteString(filler[rng.Intn(len(filler))])
			}
		}
		out = append(out, b.String())
	}
	return out
}

// The text rules' phrase set picks the same rule as trying each rule's
// regexp in turn: its literals never rule out a text the regexp matches.
func TestTextRulesPhraseSet(t *testing.T) {
	res := compileAll(rulePatterns(textRules))
	for _, s := range phraseSamples(textRuleSet, 20000) {
		if got, want := textRuleSet.first(s), naiveFirst(res, s); got != want {
			t.Fatalf("first(%q) = %d, want %d", s, got, want)
		}
	}
}

func FuzzTextRulesPhraseSet(f *testing.F) {
	samples := phraseSamples(textRuleSet, 300)
	for _, s := range samples[len(samples)-300:] {
		f.Add(s)
	}
	res := compileAll(rulePatterns(textRules))
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := textRuleSet.first(s), naiveFirst(res, s); got != want {
			t.Fatalf("first(%q) = %d, want %d", s, got, want)
		}
	})
}

// requiredLiterals is a necessary condition: a pattern never matches a
// text that contains none of them, case-insensitive patterns included.
func TestRequiredLiterals(t *testing.T) {
	patterns := append(rulePatterns(textRules),
		`(?i)this\s+is\s+the\s+qmail-send\s+program`, `(?i)\bhost:?\s+([a-z0-9][a-z0-9.\-]*[a-z0-9])`,
		`(?i)mail from:\s*<([^>\s]+)>`, `(?i)after (end of )?data|in reply to rcpt to`, `^(?:Received|Return-Path): `,
		`(?i)(?:é|ü)ber|straße`, `(?i)[İ]n reply|[K]nown`,
		stageRe.String(), inReplyToRe.String(), eximEnd.String(), subjectBounceRe.String())
	texts := phraseSamples(textRuleSet, 5000)
	for _, s := range []string{"THIS IS THE QMAIL-SEND PROGRAM", "thiſ iſ the qmail-ſend program", "HOST: MX.EXAMPLE", "Mail From: <a@b>",
		"AFTER END OF DATA", "in reply to RCPT TO", "Received: x", "Return-Path: <>", "ÜBER", "STRASSE", "İn reply", "\u212anown",
		"in reply to \u212aNOWN", "İN REPLY TO RCPT TO", "ﬀ", "<<< 550 5.1.1 after RCPT TO", "Undeliverable: x"} {
		texts = append(texts, s, strings.ToUpper(s), strings.ToLower(s))
	}
	for _, p := range patterns {
		f := mustFastRe(p)
		for _, s := range texts {
			if f.Regexp.MatchString(s) && (!f.mayMatch(s) || f.fold && !f.mayMatchLower(strings.ToLower(s))) {
				t.Fatalf("%s: literals %q rule out %q, which matches", p, f.lits, s)
			}
		}
	}
}
