package classify

import (
	"fmt"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
)

// BenchmarkCorpus classifies the whole dev corpus held in memory; the
// figure to read is msgs/s (one core: run with -cpu 1) and allocs/op,
// which is per message. cpu-ns/op, the process's CPU time per message, is
// the figure to compare on a shared machine, whose load inflates the
// elapsed time.
//
//	go test ./classify -run '^$' -bench Corpus -benchmem -cpu 1
func BenchmarkCorpus(b *testing.B) {
	_, files := loadCorpus(b)
	raws := make([][]byte, 0, len(files))
	for _, raw := range files {
		raws = append(raws, raw)
	}
	in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		Classify(raws[i%len(raws)], in)
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkGenerated classifies the mix of generated bounces that
// bouncebench smtp sends (Postfix and Exim failures, ARF complaints,
// auto-replies), each with the VERP recipient the sink would pass: the
// classifier's share of the server CPU that bouncebench measures.
//
//	go test ./classify -run '^$' -bench Generated -benchmem -cpu 1
func BenchmarkGenerated(b *testing.B) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type message struct {
		raw []byte
		in  Input
	}
	var msgs []message
	for i := range 120 {
		rcpt := fmt.Sprintf("user%d@example.org", i)
		msgs = append(msgs, message{
			raw: bouncegen.Message(bouncegen.Mixed(i), rcpt, bouncegen.VERP(rcpt, "localhost"), i, at),
			in:  Input{EnvelopeRecipient: bouncegen.VERP(rcpt, "localhost"), VERPRecipient: rcpt, Now: at},
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		Classify(m.raw, m.in)
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
