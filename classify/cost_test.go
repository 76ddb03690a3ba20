package classify

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// The sizes the hostile shapes are fed at: each four times the one before,
// so a cost linear in the size grows about four times from one to the next.
var hostileSizes = []int{100_000, 400_000, 1_600_000}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	}
	return fmt.Sprintf("%dKB", n/1000)
}

// benignShapes are ordinary bounces of the same sizes, the yardstick of
// the hostile ones: a DSN returning a large attachment, and a plain-text
// bounce returning the message inline.
var benignShapes = []hostileShape{
	{"benign-dsn-attachment", hugeBounce},
	{"benign-qmail-inline", hugePlainBounce},
}

// workOf classifies raw once and returns the work counted (see work.go)
// and the verdicts.
func workOf(raw []byte) (int64, []Verdict) {
	w := &meter{}
	workMeter = w
	defer func() { workMeter = nil }()
	vs := Classify(raw, Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	return w.n.Load(), vs
}

// allocatedBy classifies raw once and returns the bytes it allocated:
// the other count of work, which sees what no scan charges (a string
// copied each time a line is appended to it).
func allocatedBy(raw []byte) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	Classify(raw, Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Every hostile shape costs work linear in its size: each four times the
// size costs at most five times the work, and no message more than
// workBudget.
func TestHostileCostLinear(t *testing.T) {
	for _, s := range append(hostileShapes, benignShapes...) {
		t.Run(s.name, func(t *testing.T) {
			var prev int64
			for i, size := range hostileSizes {
				raw := s.gen(size)
				work, vs := workOf(raw)
				alloc := allocatedBy(raw)
				t.Logf("%s %s: %d bytes, work %d (%.1f per byte), allocated %d (%.1f per byte), %s %s %s", s.name, sizeName(size), len(raw), work,
					float64(work)/float64(len(raw)), alloc, float64(alloc)/float64(len(raw)), vs[0].Class, vs[0].Evidence.Rule, vs[0].Evidence.Detail)
				if alloc > allocBudget(len(raw)) {
					t.Errorf("%s: allocated %d, over the budget %d of %d bytes", sizeName(size), alloc, allocBudget(len(raw)), len(raw))
				}
				if work > workBudget(len(raw)) {
					t.Errorf("%s: work %d, over the budget %d of %d bytes", sizeName(size), work, workBudget(len(raw)), len(raw))
				}
				if i > 0 && work > 5*prev {
					t.Errorf("%s: work %d, more than 5 times the %d of a quarter of the size", sizeName(size), work, prev)
				}
				prev = work
			}
		})
	}
}

// workBudget is the most work a message of n bytes may cost: a bound
// linear in n. The slack covers what the bounds on shared reading make
// constant (maxFindings recipients reading one maxDiagnostic diagnostic).
func workBudget(n int) int64 { return maxWorkPerByte*int64(n) + workSlack }

const (
	maxWorkPerByte = 200
	workSlack      = 4 << 20
)

// BenchmarkHostile classifies each hostile shape, and the benign ones for
// comparison, at each size; the figure to read is ns/op against the size
// (MB/s stays about flat when the cost is linear).
//
//	go test ./classify -run '^$' -bench Hostile -benchtime 3x -cpu 1
func BenchmarkHostile(b *testing.B) {
	in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, s := range append(hostileShapes, benignShapes...) {
		for _, size := range hostileSizes {
			b.Run(s.name+"/"+sizeName(size), func(b *testing.B) {
				raw := s.gen(size)
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					Classify(raw, in)
				}
			})
		}
	}
}

// allocBudget is the most a message of n bytes may make the classifier
// allocate, linear in n.
func allocBudget(n int) uint64 { return 64*uint64(n) + 16<<20 }
