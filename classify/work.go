package classify

import "sync/atomic"

// Counting the work. Every search the classifier makes (a regexp run, a
// literal scan, the walker's boundary searches and decoding) reports the
// bytes it hands over or looks at through charge. Nothing in a program
// counts: workMeter is nil there, and charge is a load and a branch. The
// tests that prove the cost of a message linear in its size (cost_test.go,
// FuzzCost) set it, run one message, and read the count, which, unlike a
// wall-clock time, is the same on every machine and every run.
//
// It is the package's one mutable variable, and only this package's tests
// ever set it, never while another test classifies (none runs in
// parallel).
var workMeter *meter

type meter struct {
	n atomic.Int64
	// at, when positive, is the count at which stop is called once:
	// the tests cancel a context there to see how much work follows.
	at   int64
	stop func()
}

// charge counts n bytes examined.
func charge(n int) {
	if w := workMeter; w != nil {
		w.add(n)
	}
}

func (w *meter) add(n int) {
	t := w.n.Add(int64(n))
	if w.at > 0 && t >= w.at && w.stop != nil {
		f := w.stop
		w.stop = nil
		f()
	}
}
