package classify

import (
	"context"
	"testing"
	"time"
)

// Once its context is done, ClassifyContext stops within a bounded amount
// of further work, wherever the work then is (the MIME walk, a decoder's
// scan of a long text): the context is cancelled when a tenth, half and
// nine tenths of the message's work is done, and the work that follows
// must stay within what the longest step of the classification (reading
// the message, or one decoder) costs.
func TestClassifyContextStopsMidWay(t *testing.T) {
	in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, s := range append(hostileShapes, benignShapes...) {
		raw := s.gen(testSizes()[1])
		total, _ := workOf(raw)
		step := longestStep(raw)
		worst := int64(0)
		for _, at := range []int64{total / 10, total / 2, total * 9 / 10} {
			ctx, cancel := context.WithCancel(context.Background())
			w := &meter{at: at, stop: cancel}
			workMeter = w
			vs := ClassifyContext(ctx, raw, in)
			workMeter = nil
			cancel()
			after := w.n.Load() - at
			worst = max(worst, after)
			if len(vs) != 1 || vs[0].Evidence.Rule != "cancelled" {
				t.Errorf("%s: cancelled at %d of %d, got %+v, want one verdict with rule cancelled", s.name, at, total, vs)
			}
			if after > step {
				t.Errorf("%s: cancelled at %d of %d, then %d more, over the longest step's %d", s.name, at, total, after, step)
			}
		}
		t.Logf("%s: %d bytes, work %d, longest step %d; at most %d more once cancelled (%.1f%%)", s.name, len(raw), total, step, worst, 100*float64(worst)/float64(total))
	}
}

// longestStep returns the work of the costliest step of classifying raw:
// reading the message, or running one decoder.
func longestStep(raw []byte) int64 {
	w := &meter{}
	workMeter = w
	defer func() { workMeter = nil }()
	m := parseMessage(raw, Input{})
	longest := w.n.Load()
	for _, d := range decoders {
		before := w.n.Load()
		vs := d.decode(m)
		longest = max(longest, w.n.Load()-before)
		if len(vs) > 0 {
			break
		}
	}
	return longest
}

// The MIME walk looks at the context as it goes: a message of near 10 MiB
// nested as deep as the walk allows, its context cancelled early in the walk,
// costs little more than one search of its body, not the walk's whole
// budget of bytes.
func TestClassifyContextStopsTheWalk(t *testing.T) {
	raw := nestedMultipart(testSizes()[2]*6, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &meter{at: 1 << 20, stop: cancel}
	workMeter = w
	vs := ClassifyContext(ctx, raw, Input{})
	workMeter = nil
	after := w.n.Load() - w.at
	t.Logf("%d bytes, cancelled at %d of work, then %d more", len(raw), w.at, after)
	if len(vs) != 1 || vs[0].Evidence.Rule != "cancelled" {
		t.Errorf("got %+v, want one verdict with rule cancelled", vs)
	}
	if after > int64(len(raw))+1<<20 {
		t.Errorf("%d more work once cancelled, over one search of the body (%d)", after, len(raw)+1<<20)
	}
}
