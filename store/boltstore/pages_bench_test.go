package boltstore

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/store"
)

// BenchmarkCommitPages records commits of 20 bounces of the realistic mix
// (a group commit before the journal) and of 2,000 (the journal's
// applier under load), with the journal's reference to the raw bytes,
// into a store of 20,000 and reports the pages each commit rewrites, by
// bucket (a page per 4 KB of each node bbolt holds changed, leaves and the
// branches above them; read from bbolt's unexported fields, so it skips
// if they change). "new" names recipients that sort after all the others,
// as bouncebench's do; "spread" names them anywhere among them, as real
// bounces do.
//
//	go test ./store/boltstore -run '^$' -bench CommitPages -benchtime 5x
func BenchmarkCommitPages(b *testing.B) {
	for _, perCommit := range []int{20, 2000} {
		for _, spread := range []bool{false, true} {
			name := fmt.Sprintf("%s-%d", map[bool]string{false: "new", true: "spread"}[spread], perCommit)
			b.Run(name, func(b *testing.B) { benchCommitPages(b, spread, perCommit) })
		}
	}
}

func benchCommitPages(b *testing.B, spread bool, perCommit int) {
	db, _ := openTest(b, Options{})
	at := time.Now()
	message := func(i int, rcpt string) store.Message {
		k := bouncegen.Mixed(i)
		digest := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
		return store.Message{Received: at.Add(time.Duration(i) * time.Millisecond), Digest: digest[:],
			Raw: bouncegen.Message(k, rcpt, bouncegen.VERP(rcpt, "bounce.example.com"), i, at),
			Observations: []store.Observation{{Recipient: rcpt, Class: k.String(), Reason: "user_unknown", Status: "5.1.1",
				SMTPCode: 550, Action: "failed", Decoder: "rfc3464", Rule: "status",
				Diagnostic: "smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table"}}}
	}
	const stored = 20_000
	for i := 0; i < stored; {
		var msgs []store.Message
		for ; len(msgs) < 1000; i++ {
			msgs = append(msgs, message(i, fmt.Sprintf("r%07d@example.org", i)))
		}
		recordMany(b, db, msgs)
	}
	pages := map[string]int{}
	b.ResetTimer()
	for n := range b.N {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for j := range perCommit {
				i := stored + n*perCommit + j
				rcpt := fmt.Sprintf("r%07d@example.org", i)
				if spread {
					rcpt = fmt.Sprintf("r%07d-%d@example.org", rand.IntN(stored), i)
				}
				m := message(i, rcpt)
				at := m.Received.UTC().Round(0)
				head, targets, err := prepareHead(messageRecord{Received: at, RawSize: len(m.Raw)}, m.Observations)
				if err != nil {
					return err
				}
				// What the journal's applier puts: where the raw bytes are.
				in := recordIn{id: nextID(tx), at: at, head: head, raw: rawPointer(1, int64(i)*2000, 2000), rawSize: len(m.Raw), targets: targets, digest: m.Digest}
				if _, err := db.recordTx(tx, nil, in); err != nil {
					return err
				}
			}
			for _, bucket := range allBuckets {
				p, ok := changedPages(tx.Bucket(bucket))
				if !ok {
					b.Skip("bbolt's unexported fields changed: cannot count the changed pages")
				}
				pages[string(bucket)] += p
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	total := 0
	for bucket, p := range pages {
		b.ReportMetric(float64(p)/float64(b.N), bucket+"-pages/commit")
		total += p
	}
	b.ReportMetric(float64(total)/float64(b.N), "pages/commit")
}

// changedPages estimates the pages that bk's changed nodes take when the
// transaction commits: its size in 4 KB pages, for each.
func changedPages(bk *bolt.Bucket) (int, bool) {
	nodes := reflect.ValueOf(bk).Elem().FieldByName("nodes")
	if nodes.Kind() != reflect.Map {
		return 0, false
	}
	total := 0
	for it := nodes.MapRange(); it.Next(); {
		inodes := it.Value().Elem().FieldByName("inodes")
		if inodes.Kind() != reflect.Slice {
			return 0, false
		}
		size := 16 // page header
		for i := range inodes.Len() {
			in := inodes.Index(i)
			in = reflect.NewAt(in.Type(), unsafe.Pointer(in.UnsafeAddr())).Elem()
			key, value := in.FieldByName("key"), in.FieldByName("value")
			if key.Kind() != reflect.Slice || value.Kind() != reflect.Slice {
				return 0, false
			}
			size += 16 + key.Len() + value.Len() // element header, key, value
		}
		total += (size + 4095) / 4096
	}
	return total, true
}
