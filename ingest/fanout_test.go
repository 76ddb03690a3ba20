package ingest

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

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

// naiveBind is how observe bound verdicts before bindAll: every binding
// binds every verdict.
func naiveBind(bindings []binding, vs []classify.Verdict) []boundVerdict {
	var out []boundVerdict
	if len(bindings) == 0 {
		for i, v := range vs {
			out = append(out, boundVerdict{Verdict: v, of: i})
		}
	}
	for _, b := range bindings {
		out = append(out, b.bind(vs)...)
	}
	return out
}

// bindAll keeps what binding every verdict to every binding kept, for
// every mix of up to three return paths (plain, VERP tags named in the
// report or not, signed ones with a recipient or a hash, expired) and of
// reports (naming them, others, twice, in other case, no one, garbage).
func TestBindAllKeepsWhatBindingEveryCopyKept(t *testing.T) {
	signer := testSigner(t)
	sign := func(rcpt string, at time.Time) string {
		t.Helper()
		rp, err := signer.Sign("bounces@news.example.com", rcpt, at)
		if err != nil {
			t.Fatal(err)
		}
		return rp
	}
	long := "a-very-long-local-part-that-only-fits-as-a-hash.0123456789@example.org"
	paths := []string{
		"bounces@news.example.com",
		"bounces+alice=example.org@news.example.com",
		"bounces+bob=example.org@news.example.com",
		"bounces+Carol=Example.org@news.example.com",
		sign("alice@example.org", t0),
		sign("dave@example.org", t0),
		sign(long, t0),
		sign("erin@example.org", t0.Add(-48*time.Hour)), // expired
	}
	v := func(rcpt string) classify.Verdict {
		return classify.Verdict{Recipient: rcpt, Class: classify.Hard, Reason: "user_unknown",
			Evidence: classify.Evidence{Decoder: "rfc3464", Rule: "status-5.1.1", Detail: "d"}}
	}
	reports := [][]classify.Verdict{
		nil,
		{v("")},
		{v("alice@example.org")},
		{v("x@example.net"), v("y@example.net")},
		{v("Alice@Example.org"), v("bob@example.org"), v("alice@example.org")},
		{v("carol@example.org"), v("not an address"), v("dave@example.org"), v(long)},
		{v("erin@example.org"), v(""), v("zed@example.net"), v("bob@example.org")},
	}
	s := &Sink{VERPSeparator: "+", Signer: signer}
	cases := 0
	for a := range paths {
		for b := range paths {
			for c := range paths {
				for _, k := range [][]string{{paths[a]}, {paths[a], paths[b]}, {paths[a], paths[b], paths[c]}} {
					bindings := s.bindings(k, t0)
					for r, vs := range reports {
						want := reviewOnce(oncePerRecipient(naiveBind(bindings, vs)))
						got := reviewOnce(oncePerRecipient(bindAll(bindings, vs)))
						if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
							t.Fatalf("return paths %q, report %d:\n got %+v\nwant %+v", k, r, got, want)
						}
						cases++
					}
				}
			}
		}
	}
	t.Logf("%d cases", cases)
}

// The work of binding grows with the return paths plus the verdicts:
// fifty return paths cost about what one does.
func TestBindingCostDoesNotMultiply(t *testing.T) {
	const named = 5000
	var vs []classify.Verdict
	for i := range named {
		vs = append(vs, classify.Verdict{Recipient: fmt.Sprintf("user%d@example.net", i), Class: classify.Hard})
	}
	s := &Sink{VERPSeparator: "+"}
	alloc := func(paths int) uint64 {
		var to []string
		for i := range paths {
			to = append(to, fmt.Sprintf("bounces+victim%d=example.org@news.example.com", i))
		}
		bindings := s.bindings(to, t0)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		reviewOnce(oncePerRecipient(bindAll(bindings, vs)))
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}
	one, fifty := alloc(1), alloc(50)
	t.Logf("bytes allocated binding %d verdicts: %d for one return path, %d for fifty", named, one, fifty)
	if fifty > 2*one {
		t.Errorf("binding %d verdicts allocated %d bytes for fifty return paths, %d for one: want at most twice", named, fifty, one)
	}
}
