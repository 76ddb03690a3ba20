package classify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden .json files in testdata/classify from the current classifier")

// goldenDir holds fixtures this project wrote: <name>.eml beside
// <name>.json, the expected verdicts. An optional <name>.rcpt holds the
// envelope recipient and its VERP-decoded original, one per line.
const goldenDir = "../testdata/classify"

// TestGolden classifies every fixture and compares with its golden file.
// After a reviewed change of behaviour, run `go test ./classify -run Golden
// -update` and review the diff of the .json files before committing.
func TestGolden(t *testing.T) {
	emls, err := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	if err != nil || len(emls) == 0 {
		t.Fatalf("no fixtures in %s (%v)", goldenDir, err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, eml := range emls {
		name := strings.TrimSuffix(filepath.Base(eml), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(eml)
			if err != nil {
				t.Fatal(err)
			}
			in := Input{Now: now}
			if rc, err := os.ReadFile(strings.TrimSuffix(eml, ".eml") + ".rcpt"); err == nil {
				lines := strings.Split(strings.TrimSpace(string(rc)), "\n")
				in.EnvelopeRecipient = strings.TrimSpace(lines[0])
				if len(lines) > 1 {
					in.VERPRecipient = strings.TrimSpace(lines[1])
				}
			}
			got, err := json.MarshalIndent(Classify(raw, in), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(eml, ".eml") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden file (run with -update after review): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("verdicts differ from %s\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}
