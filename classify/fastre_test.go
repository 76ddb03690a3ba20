package classify

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fastReTexts are texts to try the patterns on: the fixtures' texts and
// diagnostics, their lines, and texts built around the text rules' literals.
func fastReTexts(tb testing.TB) []string {
	texts := phraseSamples(textRuleSet, 3000)
	emls, _ := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	for _, eml := range emls {
		raw, err := os.ReadFile(eml)
		if err != nil {
			tb.Fatal(err)
		}
		m := parseMessage(raw, Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		texts = append(texts, m.text, m.get("Subject"))
		texts = append(texts, textLines(m.text)...)
		for _, v := range Classify(raw, Input{}) {
			texts = append(texts, v.Diagnostic)
		}
	}
	for _, s := range []string{"İN REPLY TO RCPT TO", "\u212aNOWN after rcpt to", "ſender was rejected", "AFTER END OF DATA",
		// markers: runs of white space, case, overlapping phrases
		"Delivery\r\n  FAILED for the\tfollowing REASON:", "delivery failedfor the following reason:",
		"------- This is a copy of the message", "x ----- this is a copy of the body\n------ this is a copy of the message",
		"the following address(es) failed:\n\n  a@example.org", "The  following\vaddress failed:"} {
		texts = append(texts, s, strings.ToLower(s))
	}
	return texts
}

// Every fastRe finds what its regexp finds: its literals never rule out a
// match, and its alternatives, run on their own, agree with the whole.
func TestFastReSameAsRegexp(t *testing.T) {
	texts := fastReTexts(t)
	for _, f := range fastRes {
		for _, s := range texts {
			checkFastRe(t, f, s)
		}
	}
	for _, s := range append(texts, statusTexts...) {
		checkCodeScanners(t, s)
	}
}

// statusTexts try the edges of the status and reply code scanners.
var statusTexts = []string{
	"5.1.1", "x5.1.1", "15.1.1", ".5.1.1", "5.1.1.", "5.1.1234", "5.1234.1", "5.1.1 5.2.2", "5.1.1  5.2.2", "é5.1.1é",
	"\xe25.1.1\xff", "\xc3\xa9\xa95.1.1", "550 5.1.1", "550-5.7.1", "#550 x", "550", "x550-", "5505", "265 ", "4.4.7\n4.0.0",
	// replyIndex: what may stand before a reply, and the ends of the codes
	"550 ", "550", " 550-", ":550 x", "(5.1.1 x", "[4.4.7\t", "5.1.1", "5.1.1\n", "5.1234.1 x", "5.1.1234 x", "x5.1.1 y", "\f250 ok",
	"\v550 x", "é550 x", "a 49 5 550 x", "5.1.10 x 550 y", "2.0.0\r", "450-4.2.0 x",
}

// The status and reply code scanners find what statusRe and replyCodeRe find.
func checkCodeScanners(t *testing.T, s string) {
	t.Helper()
	var got [][]int
	for pos := 0; ; {
		loc, ok := nextStatus(s, pos)
		if !ok {
			break
		}
		got, pos = append(got, loc[:]), loc[1]
	}
	if want := statusRe.Regexp.FindAllStringSubmatchIndex(s, -1); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("nextStatus on %q: %v, want %v", s, got, want)
	}
	want := -1
	if loc := replyCodeRe.Regexp.FindStringSubmatchIndex(s); loc != nil {
		want = loc[2]
	}
	if got := replyCodeIndex(s); got != want {
		t.Fatalf("replyCodeIndex(%q) = %d, want %d", s, got, want)
	}
	want = -1
	if loc := replyStartRe.Regexp.FindStringSubmatchIndex(s); loc != nil {
		want = loc[2]
	}
	if got := replyIndex(s); got != want {
		t.Fatalf("replyIndex(%q) = %d, want %d", s, got, want)
	}
}

func checkFastRe(t *testing.T, f *fastRe, s string) {
	t.Helper()
	if got, want := f.FindStringSubmatchIndex(s), f.Regexp.FindStringSubmatchIndex(s); !slices.Equal(got, want) {
		t.Fatalf("%s on %q: %v, want %v", f, s, got, want)
	}
	if got, want := f.FindAllStringSubmatchIndex(s, -1), f.Regexp.FindAllStringSubmatchIndex(s, -1); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("%s on %q: all %v, want %v", f, s, got, want)
	}
	if got, want := f.FindAllString(s, -1), f.Regexp.FindAllString(s, -1); !slices.Equal(got, want) {
		t.Fatalf("%s on %q: all %q, want %q", f, s, got, want)
	}
	if got, want := f.MatchString(s), f.Regexp.MatchString(s); got != want {
		t.Fatalf("%s matches %q: %v, want %v", f, s, got, want)
	}
	if got, want := f.ReplaceAllString(s, "<$0>"), f.Regexp.ReplaceAllString(s, "<$0>"); got != want {
		t.Fatalf("%s replacing in %q: %q, want %q", f, s, got, want)
	}
	if f.fold && f.Regexp.MatchString(s) && !f.mayMatchLower(strings.ToLower(s)) {
		t.Fatalf("%s: literals %q rule out lower-cased %q, which matches", f, f.lits, s)
	}
	if f.fold && isASCII(s) && f.mayMatchASCII(s) != f.mayMatchLower(strings.ToLower(s)) {
		t.Fatalf("%s: literals %q in ASCII %q: mayMatchASCII says %v", f, f.lits, s, f.mayMatchASCII(s))
	}
}

func FuzzFastRe(f *testing.F) {
	for _, s := range fastReTexts(f)[2900:3100] {
		f.Add(s)
	}
	for _, s := range statusTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, re := range fastRes {
			checkFastRe(t, re, s)
		}
		checkCodeScanners(t, s)
	})
}

// The one-pass and ASCII shortcuts of the text helpers say what the plain
// forms say.
func TestFoldShortcuts(t *testing.T) {
	for _, s := range fastReTexts(t) {
		for _, v := range []string{s, "  " + s + "\v\f ", strings.ToUpper(s)} {
			if got, want := foldText(v), strings.Join(strings.Fields(strings.ToLower(v)), " "); got != want {
				t.Fatalf("foldText(%q) = %q, want %q", v, got, want)
			}
			for _, mk := range []string{"was not delivered to:", "because:", "technical details of", "", "abc", "a b", "ſ", "x-unix", "lİ", " \t", "DIV"} {
				if got, want := containsLower(v, mk), strings.Contains(strings.ToLower(v), mk); got != want {
					t.Fatalf("containsLower(%q, %q) = %v, want %v", v, mk, got, want)
				}
				if got, want := joinFields(v+mk), strings.Join(strings.Fields(v+mk), " "); got != want {
					t.Fatalf("joinFields(%q) = %q, want %q", v+mk, got, want)
				}
				if got, want := breaksLine(mk+v), slices.ContainsFunc(lineBreakTags, func(t string) bool { return strings.HasPrefix(strings.ToLower(mk+v), t) }); got != want {
					t.Fatalf("breaksLine(%q) = %v, want %v", mk+v, got, want)
				}
				m := &message{text: v}
				if got, want := m.containsLower(mk), strings.Contains(strings.ToLower(v), mk); got != want {
					t.Fatalf("message{%q}.containsLower(%q) = %v, want %v", v, mk, got, want)
				}
			}
		}
	}
}

// A foldFinder finds every place where its word occurs in lowerASCII(s).
func TestFoldFinder(t *testing.T) {
	words := []string{"a", "the", "sorry, we were unable", "final-recipient:", "user@example.org", "été", "k", "ſ", "", "-----", "550 5.1.1"}
	for _, s := range append(fastReTexts(t), "THE the tHe", "aaaa", "Été ÉTÉ été") {
		lower := lowerASCII(s)
		for _, w := range words {
			var got, want []int
			f := newFoldFinder(s, w)
			for from := 0; ; {
				i := f.next(from)
				if i < 0 {
					break
				}
				got, from = append(got, i), i+1
			}
			for from := 0; from <= len(lower); {
				i := strings.Index(lower[from:], w)
				if i < 0 {
					break
				}
				want, from = append(want, from+i), from+i+1
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%q in %q: %v, want %v", w, s, got, want)
			}
		}
	}
}

// cutTextLine cuts the lines textLines makes.
func TestCutTextLine(t *testing.T) {
	for _, s := range append(fastReTexts(t), "", "\n", "a\r\r\nb", "a\rb\n", "\r\n\r\n", "x\r") {
		var got []string
		for rest, more := s, true; more; {
			var line string
			line, rest, more = cutTextLine(rest)
			got = append(got, line)
		}
		if want := textLines(s); !slices.Equal(got, want) {
			t.Fatalf("lines of %q: %q, want %q", s, got, want)
		}
	}
}

// dsnKey and hostIn's suffix test say what their plain forms say.
func TestKeyAndHostShortcuts(t *testing.T) {
	keys := []string{"Final-Recipient", "STATUS", "status", "Stat\u212aus", "Ac\u0130on", "X-Other", "diagnostic-code", "Remote-MTA", ""}
	keys = append(keys, dsnFieldNames...)
	for _, k := range keys {
		if got, want := dsnKey(k), strings.ToLower(k); got != want {
			t.Errorf("dsnKey(%q) = %q, want %q", k, got, want)
		}
	}
	plain := func(host string, domains ...string) bool {
		h := strings.ToLower(stripType(host))
		if i := strings.IndexAny(h, " \t(["); i >= 0 {
			h = h[:i]
		}
		h = strings.TrimSuffix(h, ".")
		for _, d := range domains {
			if h == d || strings.HasSuffix(h, "."+d) {
				return true
			}
		}
		return false
	}
	for _, h := range []string{"mx.yahoo.com", "yahoo.com", "notyahoo.com", "dns; MX.Yahoo.COM.", "yahoo.com..", "", "."} {
		for _, d := range []string{"yahoo.com", "com", ""} {
			if got, want := hostIn(h, d), plain(h, d); got != want {
				t.Errorf("hostIn(%q, %q) = %v, want %v", h, d, got, want)
			}
		}
	}
}
