package ingest

import (
	"context"
	"fmt"
	"testing"

	"github.com/bouncesink/bouncesink/classify"
)

// Every return path in the envelope binds a copy of every verdict: a
// message to 50 VERP return paths whose report names 200 other addresses
// made 10,000 observations, all but 50 applied to no one, which the store
// kept and nothing counted. Each verdict that applies to no one is kept
// once: at most as many observations as return paths and verdicts, and
// still one for each return path's recipient and one for each verdict.
func TestManyReturnPathsDoNotMultiplyVerdicts(t *testing.T) {
	const paths, named = 50, 200
	rec := &recorder{}
	s := newSink(t, rec, func([]byte, classify.Input) []classify.Verdict {
		var vs []classify.Verdict
		for i := range named {
			vs = append(vs, classify.Verdict{Recipient: fmt.Sprintf("user%d@example.net", i), Class: classify.Hard,
				Reason: "user_unknown", Evidence: classify.Evidence{Decoder: "rfc3464", Rule: "status-5.1.1"}})
		}
		return vs
	})
	var to []string
	for i := range paths {
		to = append(to, fmt.Sprintf("bounces+victim%d=example.org@news.example.com", i))
	}
	if err := s.Deliver(context.Background(), Envelope{To: to}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	obs := rec.msgs[0].Observations
	if len(obs) > paths+named {
		t.Fatalf("%d observations for %d return paths and %d verdicts, want at most %d", len(obs), paths, named, paths+named)
	}
	per := map[string]int{}
	review := 0
	for _, o := range obs {
		if o.Recipient == "" {
			review++
		}
		per[o.Recipient]++
	}
	for i := range paths {
		if n := per[fmt.Sprintf("victim%d@example.org", i)]; n != 1 {
			t.Errorf("victim%d@example.org has %d observations, want 1", i, n)
		}
	}
	if review != named-1 { // the first verdict went to every return path's recipient
		t.Errorf("%d observations for review, want %d: every other verdict once", review, named-1)
	}
}
