package classify

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDelayedOnlyWarns holds, over every fixture and every file of both dev
// corpora, that class delayed means a warning: the report's Action is
// "delayed" (RFC 3464 s2.3.3), so a final failure (Action: failed), however
// long it was retried first, is never called delayed (LABELING.md).
func TestDelayedOnlyWarns(t *testing.T) {
	var files []string
	for _, pattern := range []string{
		filepath.Join(goldenDir, "*.eml"),
		filepath.Join(corpusDir, "*.eml"),
		filepath.Join(corpusDir, "..", "flufl", "*.txt"),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			t.Logf("no files match %s: skipping them (the corpora live in ../shared/corpus beside the checkout)", pattern)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no fixtures at all")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	delayed := 0
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range Classify(raw, Input{Now: now}) {
			if v.Class != Delayed {
				continue
			}
			delayed++
			if v.Action != "delayed" {
				t.Errorf("%s: %s is class delayed with Action %q (%s:%s)", filepath.Base(name), v.Recipient, v.Action, v.Evidence.Decoder, v.Evidence.Rule)
			}
		}
	}
	t.Logf("%d files, %d delayed verdicts", len(files), delayed)
}
