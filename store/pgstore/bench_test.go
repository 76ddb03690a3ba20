package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// BenchmarkCheck100k checks a send list of 100,000 addresses (a quarter
// unknown, a few garbage) against a store of 200,000 recipients of which
// 20,000 are suppressed, as the bbolt engine's benchmark of the same name
// does, on the test server (internal/pgtest).
//
//	go test ./store/pgstore -run '^$' -bench Check100k -benchmem
func BenchmarkCheck100k(b *testing.B) {
	db, err := Open(context.Background(), newDSN(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const recipients, suppressed, list = 200_000, 20_000, 100_000
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	var items []store.Item
	for i := range recipients {
		addr := fmt.Sprintf("user%07d@example.com", i)
		items = append(items, store.Item{Recipient: &store.Recipient{Address: addr, Counts: map[string]int{"hard": 1},
			FirstBounce: t0, LastBounce: t0, LastClass: "hard", HardTimes: []time.Time{t0}}})
		if i%(recipients/suppressed) == 0 {
			items = append(items, store.Item{Suppression: &store.Suppression{Address: addr, Reason: "hard", Detail: "user-unknown", Since: t0}})
		}
		if len(items) >= 5000 {
			if err := db.Load(ctx, items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	if err := db.Load(ctx, items); err != nil {
		b.Fatal(err)
	}
	if err := db.FinishLoad(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE suppressions"); err != nil {
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
	if _, err := db.Check(ctx, addrs); err != nil { // warm the server's caches
		b.Fatal(err)
	}
	hits := 0
	b.ResetTimer()
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
