package classify

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzSeeds adds the project's fixtures and, when present, the shared
// corpus as seeds, so the fuzzer starts from real bounces of every format.
func fuzzSeeds(f *testing.F) {
	for _, pattern := range []string{filepath.Join(goldenDir, "*.eml"), filepath.Join(corpusDir, "*.eml"), filepath.Join(fluflDir, "*.txt")} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			if raw, err := os.ReadFile(name); err == nil {
				f.Add(raw)
			}
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("\x00\xff garbage"))
}

func checkVerdicts(t *testing.T, vs []Verdict, atLeastOne bool) {
	if atLeastOne && len(vs) == 0 {
		t.Fatal("no verdict")
	}
	for _, v := range vs {
		if _, ok := reasonClass[v.Reason]; !ok {
			t.Fatalf("reason %q is not in the taxonomy", v.Reason)
		}
		switch v.Class {
		case Hard, Soft, Block, Complaint, AutoReply, Delayed, Delivered, Unknown:
		default:
			t.Fatalf("class %q is not a class", v.Class)
		}
		if v.Evidence.Decoder == "" {
			t.Fatalf("verdict without evidence: %+v", v)
		}
		if v.Recipient != "" && !looksLikeAddress(v.Recipient) {
			t.Fatalf("recipient %q is not an address", v.Recipient)
		}
	}
}

// FuzzClassify: any input yields at least one well-formed verdict and no panic.
// Run: go test ./classify -run '^$' -fuzz FuzzClassify -fuzztime 5m
func FuzzClassify(f *testing.F) {
	fuzzSeeds(f)
	in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), VERPRecipient: "verp@example.org"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkVerdicts(t, Classify(raw, in), true)
	})
}

// FuzzCost: no input costs more work (bytes examined, counted as in
// cost_test.go) than a budget linear in its size; a search that restarts
// at every occurrence of something, or a loop over lines that reads the
// rest of the text, soon costs more.
// Run: go test ./classify -run '^$' -fuzz FuzzCost -fuzztime 5m -parallel 1
func FuzzCost(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range hostileShapes {
		f.Add(s.gen(4 << 10))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if work, _ := workOf(raw); work > workBudget(len(raw)) {
			t.Fatalf("work %d for %d bytes, over the budget %d", work, len(raw), workBudget(len(raw)))
		}
	})
}

// FuzzDecoders runs every decoder on its own, so a panic in one that a
// decoder earlier in the order would have hidden is still found.
// Run: go test ./classify -run '^$' -fuzz FuzzDecoders -fuzztime 5m
func FuzzDecoders(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := parseMessage(raw, Input{})
		for _, d := range decoders {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("decoder %s panicked: %v", d.name, p)
					}
				}()
				checkVerdicts(t, d.decode(m), false)
			}()
		}
	})
}
