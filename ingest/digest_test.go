package ingest

import (
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
)

// BenchmarkDigest digests a generated 3 KB bounce, as Deliver does for
// every message.
//
//	go test ./ingest -run '^$' -bench Digest -benchmem
func BenchmarkDigest(b *testing.B) {
	rcpt := "user@example.org"
	raw := bouncegen.Message(bouncegen.Hard, rcpt, bouncegen.VERP(rcpt, "localhost"), 1, time.Unix(0, 0))
	env := Envelope{To: []string{bouncegen.VERP(rcpt, "localhost")}}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		digest(env, raw)
	}
}
