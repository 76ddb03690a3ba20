package classify

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

// leadsOf lists the lead literals of a fastRe: its own, or its
// alternatives'.
func leadsOf(f *fastRe) []string {
	if f.lead != nil {
		return f.lead.leads
	}
	var out []string
	if f.alts != nil {
		for _, a := range f.alts.alts {
			if a.lead != nil {
				out = append(out, a.lead.leads...)
			}
		}
	}
	return out
}

// Texts in which a pattern's lead occurs so often that its anchored
// attempts run out of budget and the regexp runs once from an occurrence:
// every fastRe still finds what its regexp finds.
func TestLeadReFallback(t *testing.T) {
	samples := fastReTexts(t)
	for i, f := range fastRes {
		leads := leadsOf(f)
		if len(leads) == 0 || raceEnabled && i%16 != 0 {
			continue // under the race detector, a sixteenth of the patterns
		}
		// A few texts it matches, and one it does not.
		var texts []string
		for _, s := range samples {
			if len(texts) < 2 && f.Regexp.MatchString(s) {
				texts = append(texts, s)
			}
		}
		texts = append(texts, "nothing here")
		for _, lead := range leads {
			for _, sep := range []string{"", " "} {
				// Past leadSlack: the budget runs out.
				pad := strings.Repeat(strings.ToUpper(lead[:1])+lead[1:]+sep, 2*leadSlack/len(lead))
				for _, s := range texts {
					for _, text := range []string{pad + s, s + pad + s} {
						if got, want := f.FindStringSubmatchIndex(text), f.Regexp.FindStringSubmatchIndex(text); !equalInts(got, want) {
							t.Fatalf("%s on %q...: %v, want %v", f, text[:min(len(text), 80)], got, want)
						}
					}
				}
			}
		}
	}
}

// A lead literal repeated on one line costs a search linear work: the
// pattern that made Exchange 2003 reports quadratic, and one with a
// bounded match.
func TestLeadReLinear(t *testing.T) {
	for _, c := range []struct{ pattern, unit, tail string }{
		{`MSEXCH:[^\s]*\s+\d+\s+\(([0-9A-Fa-f]{8})\)`, "MSEXCH:", " 0 (unknown)"},
		{`(?i)the following recipients returned (permanent|temporary) errors:\s*(.+?)\.\s+Reason:\s*(.+)`, "the following recipients returned permanent errors: ", ""},
		{`(?i)returned to (?:the )?sender`, "Returned to ", "sender"},
	} {
		f := mustFastRe(c.pattern)
		fastRes = fastRes[:len(fastRes)-1] // not one of the package's
		if f.lead == nil {
			t.Fatalf("%s: no lead literal", c.pattern)
		}
		var prev int64
		for _, n := range testSizes() {
			s := strings.Repeat(c.unit, n/2/len(c.unit)) + c.tail
			w := &meter{}
			workMeter = w
			got := f.FindStringSubmatchIndex(s)
			workMeter = nil
			if want := f.Regexp.FindStringSubmatchIndex(s); !equalInts(got, want) {
				t.Fatalf("%s on %d bytes: %v, want %v", c.pattern, len(s), got, want)
			}
			work := w.n.Load()
			t.Logf("%s: %d bytes, work %d", c.pattern, len(s), work)
			if work > 8*int64(len(s))+leadSlack {
				t.Errorf("%s: %d bytes cost work %d, more than 8 per byte", c.pattern, len(s), work)
			}
			if prev > 0 && work > 5*prev {
				t.Errorf("%s: %d bytes cost work %d, more than 5 times the %d of a quarter as much", c.pattern, len(s), work, prev)
			}
			prev = work
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// maxMatchLen bounds the matches it says it bounds, and only those.
func TestMaxMatchLen(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    int
	}{
		{`abc`, 3},
		{`(?i)k`, 3}, // the Kelvin sign
		{`(?i)s`, 2}, // the long s
		{`a|bcd`, 3},
		{`a{2,5}`, 5},
		{`a?b`, 2},
		{`[a-z]\d{1,3}`, 4},
		{`é.`, 2 + 4},
		{`\bx$`, 1},
		{`a*`, -1},
		{`a+b`, -1},
		{`a{2,}`, -1},
		{`(?:)*`, 0},
	} {
		re, err := syntax.Parse(c.pattern, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := maxMatchLen(re); got != c.want {
			t.Errorf("maxMatchLen(%s) = %d, want %d", c.pattern, got, c.want)
		}
		_ = regexp.MustCompile(c.pattern)
	}
}
