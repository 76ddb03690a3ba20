package classify

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// hintAddrRe is the pattern hintAddresses reads without the regexp engine.
var hintAddrRe = regexp.MustCompile(`[A-Za-z0-9._%+\-=]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

func checkHintAddresses(t *testing.T, s string) {
	t.Helper()
	for _, n := range []int{1, 2, 8, -1} {
		got, want := hintAddresses(s, n), hintAddrRe.FindAllString(s, n)
		if n < 0 {
			got = hintAddresses(s, len(s)+1)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q, n %d: %q, the regexp finds %q", limitString(s, 300), n, got, want)
		}
	}
}

// hintAddresses finds in every fixture and corpus message, and in the
// awkward texts below, the addresses the regexp finds.
func TestHintAddresses(t *testing.T) {
	var names []string
	for _, pattern := range []string{filepath.Join(goldenDir, "*.eml"), filepath.Join(corpusDir, "*.eml"), filepath.Join(fluflDir, "*.txt")} {
		found, _ := filepath.Glob(pattern)
		names = append(names, found...)
	}
	if len(names) < 300 {
		t.Fatalf("only %d messages: fixtures or corpus missing", len(names))
	}
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkHintAddresses(t, string(raw))
	}
	for _, s := range []string{
		"", "@", "a@", "@b.com", "a@b.com", "a@b.c", "a@.com", "a@b..com", "a@b.com.x", "a@b.co1", "a@b.c.de",
		"x a@b.com y c@d.org", "a@b@c.com", "a@b.com@c.org", "a@b.comz@w.org", "é@b.com", "a\xff@b.com",
		"a@b.com-x.org", "-=%+a@b-c.d-e.fg", "a@b.com.", "a@b.-.cd", "new address: jane.doe@example.co.uk.",
	} {
		checkHintAddresses(t, s)
	}
}

// FuzzHintAddresses: hintAddresses finds what the regexp finds.
// Run: go test ./classify -run '^$' -fuzz FuzzHintAddresses -fuzztime 5m
func FuzzHintAddresses(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte("a@b.comz@w.org x@y"))
	f.Fuzz(func(t *testing.T, b []byte) { checkHintAddresses(t, string(b)) })
}
