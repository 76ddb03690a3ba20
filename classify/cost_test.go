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

// testSizes are the sizes the tests use: hostileSizes, a sixteenth of them
// under the race detector (see raceEnabled).
func testSizes() []int {
	if !raceEnabled {
		return hostileSizes
	}
	out := make([]int, len(hostileSizes))
	for i, n := range hostileSizes {
		out[i] = n / 16
	}
	return out
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	}
	return fmt.Sprintf("%dKB", n/1000)
}

// benignShapes are ordinary bounces of the same sizes, the yardstick of
// the hostile ones: a DSN returning a large attachment, a plain-text
// bounce returning the message inline, and a Postfix report on as many
// recipients as the size holds, all of whose text is read.
var benignShapes = []hostileShape{
	{"benign-dsn-attachment", hugeBounce},
	{"benign-qmail-inline", hugePlainBounce},
	{"benign-postfix-many-recipients", func(size int) []byte {
		return dsnBounce("This is the mail system at host mx.example.org.\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"+
			"be delivered to one or more recipients. It's attached below.\r\n\r\n"+
			numbered("<u%d@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 user unknown (in\r\n    reply to RCPT TO command)\r\n\r\n", size/2),
			"Reporting-MTA: dns; mx.example.org\r\n\r\n"+numbered("Final-Recipient: rfc822; u%d@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"+
				"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n", size/2))
	}},
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
	for _, s := range append(append(hostileShapes, plainTextShapes...), benignShapes...) {
		t.Run(s.name, func(t *testing.T) {
			var prev int64
			for i, size := range testSizes() {
				raw := s.gen(size)
				work, vs := workOf(raw)
				alloc := allocatedBy(raw)
				t.Logf("%s %s: %d bytes, work %d (%.1f per byte), allocated %d (%.1f per byte), %s %s %s", s.name, sizeName(size), len(raw), work,
					float64(work)/float64(len(raw)), alloc, float64(alloc)/float64(len(raw)), vs[0].Class, vs[0].Evidence.Rule, vs[0].Evidence.Detail)
				// The race detector's instrumentation allocates on its own.
				if alloc > allocBudget(len(raw)) && !raceEnabled {
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
// (MB/s stays about flat when the cost is linear), or cpu-ns/op, the
// process's CPU time per message, which other work on the machine changes
// less.
//
//	go test ./classify -run '^$' -bench Hostile -benchtime 3x -cpu 1
func BenchmarkHostile(b *testing.B) {
	for _, s := range append(append(hostileShapes, plainTextShapes...), benignShapes...) {
		for _, size := range hostileSizes {
			b.Run(s.name+"/"+sizeName(size), func(b *testing.B) { benchClassify(b, s.gen(size)) })
		}
	}
}

func benchClassify(b *testing.B, raw []byte) {
	in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.SetBytes(int64(len(raw)))
	cpu := processCPU()
	for b.Loop() {
		Classify(raw, in)
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// allocBudget is the most a message of n bytes may make the classifier
// allocate, linear in n.
func allocBudget(n int) uint64 { return 64*uint64(n) + 16<<20 }

// BenchmarkMaxSize classifies every shape, hostile and benign, at the
// largest message the SMTP server takes by default (10 MiB,
// smtpd.DefaultMaxMessageBytes).
//
//	go test ./classify -run '^$' -bench MaxSize -benchtime 3x -cpu 1
func BenchmarkMaxSize(b *testing.B) {
	for _, s := range append(append(hostileShapes, plainTextShapes...), benignShapes...) {
		b.Run(s.name, func(b *testing.B) { benchClassify(b, s.gen(maxMessageBytes)) })
	}
}

// maxMessageBytes is smtpd.DefaultMaxMessageBytes (classify may not import
// smtpd).
const maxMessageBytes = 10 << 20
