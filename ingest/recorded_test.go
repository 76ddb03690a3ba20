package ingest

import (
	"context"
	"errors"
	"testing"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
)

// Recorded hears of a message's verdicts only once the store has it.
func TestRecordedHookAfterCommit(t *testing.T) {
	fn := func(raw []byte, in classify.Input) []classify.Verdict {
		return []classify.Verdict{{Recipient: "alice@example.org", Class: classify.Hard, Reason: "user_unknown"}}
	}
	rec := &recorder{}
	s := newSink(t, rec, fn)
	var told [][]store.Observation
	s.Recorded = func(obs []store.Observation) { told = append(told, obs) }
	env := Envelope{To: []string{"bounces@example.com"}, ID: "m1"}
	if err := s.Deliver(context.Background(), env, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || len(told[0]) != 1 || told[0][0].Class != "hard" || told[0][0].Reason != "user_unknown" {
		t.Errorf("Recorded told %+v, want one hard user_unknown", told)
	}
	rec.err = errors.New("disk full")
	if err := s.Deliver(context.Background(), env, []byte("x")); err == nil {
		t.Fatal("Deliver with a failing store succeeded")
	}
	s.Observe(env, []byte("x"), t0)
	if len(told) != 1 {
		t.Errorf("Recorded told of a failed or replayed message: %+v", told)
	}
}
