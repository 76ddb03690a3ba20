package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/store"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRecord records a 4 KB bounce with two observations from many
// goroutines at once, as concurrent SMTP sessions do; the group commit
// (commit.go) lets them share a transaction and its fsync, so the figure is
// throughput, not latency.
//
// Measured (go test ./store/boltstore -run '^$' -bench 'Record$' -benchmem -count 3,
// 2 vCPU VM, with other work running): 117-190 µs/op, 25 KB and about 180
// allocations per message; the spread is the machine's, not the code's.
func BenchmarkRecord(b *testing.B) {
	db, _ := openTest(b, Options{})
	raw := bytes.Repeat([]byte("Diagnostic-Code: smtp; 550 5.1.1 <someone@example.com>: Recipient address rejected\r\n"), 48)
	var n atomic.Int64
	b.SetParallelism(16) // sessions per CPU
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			m := store.Message{
				Received:     t0.Add(time.Duration(i) * time.Second),
				EnvelopeFrom: "",
				EnvelopeTo:   []string{"bounces@bounce.example.com"},
				Raw:          raw,
				Observations: []store.Observation{
					{Recipient: fmt.Sprintf("user%d@example.com", i%5000), Class: "soft", Reason: "mailbox-full", Status: "4.2.2"},
					{Recipient: fmt.Sprintf("user%d@example.org", i%777), Class: "hard", Reason: "user-unknown", Status: "5.1.1"},
				},
			}
			if _, err := db.Record(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCheck100k checks a send list of 100,000 addresses (a quarter
// unknown, a few garbage) against a store of 200,000 recipients of which
// 20,000 are suppressed.
//
// Measured (go test ./store/boltstore -run XXX -bench Check100k -benchmem -count 3,
// same VM): 53-60 ms per 100,000 addresses (outlier 185 ms under load),
// 11 MB and 3 allocs per address. About half is Normalize, half the seeks.
func BenchmarkCheck100k(b *testing.B) {
	db, _ := openTest(b, Options{})
	const recipients, suppressed, list = 200_000, 20_000, 100_000
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		state := liveState(tx)
		for i := range recipients {
			addr := fmt.Sprintf("user%07d@example.com", i)
			r := store.Recipient{Address: addr, Counts: map[string]int{"hard": 1}, FirstBounce: t0, LastBounce: t0, LastClass: "hard", HardTimes: []time.Time{t0}}
			if err := saveRecipient(state.recipients, r, diagRef{}); err != nil {
				return err
			}
			if i%(recipients/suppressed) == 0 {
				if _, err := suppressTx(state, store.Suppression{Address: addr, Reason: "hard", Detail: "user-unknown", Since: t0}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]string, list)
	for i := range addrs {
		switch n := rng.IntN(recipients * 4 / 3); {
		case i%1000 == 0:
			addrs[i] = "not an address"
		case n < recipients:
			addrs[i] = fmt.Sprintf("User%07d@Example.com", n)
		default:
			addrs[i] = fmt.Sprintf("stranger%d@example.net", n)
		}
	}
	ctx := context.Background()
	hits := 0
	for b.Loop() {
		got, err := db.Check(ctx, addrs)
		if err != nil {
			b.Fatal(err)
		}
		hits = 0
		for _, s := range got {
			if s != nil {
				hits++
			}
		}
	}
	b.ReportMetric(float64(hits), "suppressed/op")
}

// The suppression encoding, against the JSON it replaced: Check decodes one
// per suppressed address it meets.
func BenchmarkSuppressionDecode(b *testing.B) {
	s := store.Suppression{Address: "alice@example.com", Reason: "hard", Detail: "user-unknown", Since: t0}
	addr := []byte(s.Address)
	b.Run("binary", func(b *testing.B) {
		v := encodeSuppression(s)
		for b.Loop() {
			if _, err := decodeSuppression(addr, v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(v)), "bytes")
	})
	b.Run("json", func(b *testing.B) {
		v, _ := json.Marshal(s)
		for b.Loop() {
			var got store.Suppression
			if err := json.Unmarshal(v, &got); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(v)), "bytes")
	})
}

// A recipient record's round trip, which Record does once per observation
// inside the transaction: the compact record against the JSON one it
// replaced.
func BenchmarkRecipientRecord(b *testing.B) {
	r := store.Recipient{
		Address: "alice@example.com", Counts: map[string]int{"hard": 1, "soft": 4, "delayed": 2},
		FirstBounce: t0, LastBounce: day(3), LastClass: "soft", LastReason: "mailbox-full", LastStatus: "4.2.2",
		LastDiagnostic: "smtp; 452 4.2.2 Mailbox full",
		HardTimes:      []time.Time{t0}, SoftTimes: []time.Time{day(1), day(2), day(2.5), day(3)},
	}
	b.Run("compact", func(b *testing.B) {
		var v []byte
		for b.Loop() {
			var err error
			if v, err = encodeRecipient(r, diagRef{}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := decodeRecipient(r.Address, v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(v)), "bytes")
	})
	b.Run("json", func(b *testing.B) {
		var v []byte
		for b.Loop() {
			var err error
			if v, err = json.Marshal(r); err != nil {
				b.Fatal(err)
			}
			if _, _, err := decodeRecipient(r.Address, v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(v)), "bytes")
	})
}

// BenchmarkRebuild10k rebuilds a store of 10,000 4 KB bounces (two
// observations each, over 5,777 addresses) with a reobserve that swaps
// every verdict, so every recipient and suppression changes; the cost of
// a real classifier comes on top.
//
// Measured (go test ./store/boltstore -run XXX -bench Rebuild10k -benchmem -count 3,
// 2 vCPU VM): 0.80-0.96 s per rebuild, 10,400-12,500 messages/s, 26 KB
// and 149 allocs per message, with fsync on every chunk commit. Pooling
// the flate readers took it from 8,000 messages/s and 72 KB. What is left
// is mostly recipient JSON and commits, as in Record. A million messages
// take about 90 s before the classifier's share.
func BenchmarkRebuild10k(b *testing.B) {
	db, _ := openTest(b, Options{})
	const n = 10_000
	raw := bytes.Repeat([]byte("Diagnostic-Code: smtp; 550 5.1.1 <someone@example.com>: Recipient address rejected\r\n"), 48)
	var msgs []store.Message
	for i := range n {
		msgs = append(msgs, store.Message{
			Received: t0.Add(time.Duration(i) * time.Minute),
			Raw:      raw,
			Observations: []store.Observation{
				{Recipient: fmt.Sprintf("user%d@example.com", i%5000), Class: "soft", Reason: "mailbox-full", Status: "4.2.2"},
				{Recipient: fmt.Sprintf("user%d@example.org", i%777), Class: "hard", Reason: "user-unknown", Status: "5.1.1"},
			},
		})
	}
	recordMany(b, db, msgs)
	swap := map[string]string{"soft": "hard", "hard": "soft"}
	reobserve := func(m store.StoredMessage) ([]store.Observation, error) {
		obs := slices.Clone(m.Observations)
		for i := range obs {
			obs[i].Class = swap[obs[i].Class]
		}
		return obs, nil
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := db.Rebuild(ctx, reobserve, store.RebuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}

// BenchmarkRecordBounces records generated bounces of the realistic mix
// (bouncegen, as bouncebench smtp sends them; about 3 KB each, 1.5 KB
// compressed) from 50 goroutines, as 50 SMTP sessions would, each naming
// a recipient of its own and with a digest of its own (a SHA-256, as
// ingest computes). It reports what a commit costs per message:
// the bytes bbolt writes (pages and meta page), their ratio to the
// compressed message, and the messages each commit carries.
func BenchmarkRecordBounces(b *testing.B) {
	db, _ := openTest(b, Options{})
	const sessions = 50
	msgs := make([]store.Message, 1200)
	compressed := 0
	at := time.Now()
	for i := range msgs {
		k := bouncegen.Mixed(i)
		rcpt := fmt.Sprintf("r%07d@example.org", i)
		raw := bouncegen.Message(k, rcpt, bouncegen.VERP(rcpt, "bounce.example.com"), i, at)
		msgs[i] = store.Message{Received: at, EnvelopeTo: []string{bouncegen.VERP(rcpt, "bounce.example.com")}, Raw: raw,
			Observations: []store.Observation{{Recipient: rcpt, Class: k.String(), Reason: "user_unknown", Status: "5.1.1",
				SMTPCode: 550, Action: "failed", Decoder: "rfc3464", Rule: "status",
				Diagnostic: "smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table"}}}
		compressed += len(db.compress(raw))
	}
	before := db.bolt.Stats().TxStats
	commits0, _ := db.Commits()
	writes0, frames0, bytes0 := db.JournalWrites()
	var next atomic.Int64
	b.SetParallelism((sessions + 1) / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			m := msgs[i%len(msgs)]
			m.Received = at.Add(time.Duration(i) * time.Millisecond)
			m.Observations = slices.Clone(m.Observations)
			m.Observations[0].Recipient = fmt.Sprintf("r%07d@example.org", i)
			digest := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
			m.Digest = digest[:]
			if _, err := db.Record(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	db.catchUp()
	b.StopTimer()
	after := db.bolt.Stats().TxStats
	commits1, _ := db.Commits()
	writes1, frames1, bytes1 := db.JournalWrites()
	commits := commits1 - commits0
	n := float64(b.N)
	written := float64(after.GetPageAlloc()-before.GetPageAlloc()) + float64(commits*int64(db.bolt.Info().PageSize)) + float64(bytes1-bytes0)
	b.ReportMetric(written/n, "written-B/msg")
	b.ReportMetric(written/n/(float64(compressed)/float64(len(msgs))), "written/compressed")
	b.ReportMetric(float64(bytes1-bytes0)/n, "journal-B/msg")
	b.ReportMetric(float64(frames1-frames0)/float64(writes1-writes0), "msgs/write")
	b.ReportMetric(n/float64(commits), "msgs/commit")
}

// An address named in many messages that each name hundreds of others: an
// event refers to its message's head, and reading the history reads one
// observation of each head rather than decode it whole ("whole" decodes
// each head as a reader that did not skip would, for comparison).
// 2026-12-06, this VM (load 4, shared): 200 heads of 500 observations,
// 11.4 ms per history read skipping, 127.6 ms decoding the heads whole.
func BenchmarkHistoryOfWideMessages(b *testing.B) {
	db, _ := openTest(b, Options{})
	for m := range 200 {
		msg := store.Message{Received: t0.Add(time.Duration(m) * time.Minute), Raw: []byte("wide\r\n")}
		for i := range 500 {
			addr := fmt.Sprintf("r%d-%d@example.com", m, i)
			if i == m%500 {
				addr = "victim@example.com"
			}
			msg.Observations = append(msg.Observations, store.Observation{Recipient: addr, Class: "hard", Reason: "user-unknown",
				Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown"})
		}
		record(b, db, msg)
	}
	ctx := context.Background()
	b.Run("skipping", func(b *testing.B) {
		for b.Loop() {
			if _, events, err := db.Recipient(ctx, "victim@example.com"); err != nil || len(events) != 200 {
				b.Fatal(len(events), err)
			}
		}
	})
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			err := db.view(func(tx *bolt.Tx) error {
				heads := tx.Bucket(bucketMessages)
				return heads.ForEach(func(k, v []byte) error {
					_, err := decodeHead(binary.BigEndian.Uint64(k), v)
					return err
				})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
