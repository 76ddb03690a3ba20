package admin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// BenchmarkListSorted measures one page of the admin list over a store
// of many suppressions (300,000, or $BOUNCESINK_BENCH_SUPPRESSIONS),
// sorted by each column, on the first page and a deep one, and searched:
//
//	go test ./admin -run '^$' -bench ListSorted -benchmem
//
// The store is filled once (about half a minute for 300,000).
func BenchmarkListSorted(b *testing.B) {
	n := 300_000
	if v, err := strconv.Atoi(os.Getenv("BOUNCESINK_BENCH_SUPPRESSIONS")); err == nil && v > 0 {
		n = v
	}
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	reasons := []string{"manual", "import", "hard", "complaint", "soft"}
	details := []string{"user_unknown", "mailbox_full", "asked by phone", "ses:bounce", "feedback", "=1+2"}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var chunk []store.ManualSuppression
	for i := range n {
		// Addresses and times in no relation to each other, as in life.
		j := (i * 7919) % n
		chunk = append(chunk, store.ManualSuppression{
			Address: fmt.Sprintf("person%07d@domain%03d.example", j, j%500),
			Reason:  reasons[i%len(reasons)], Detail: details[(i/7)%len(details)],
			Since: t0.Add(time.Duration(i) * time.Minute),
		})
		if len(chunk) == 1000 || i == n-1 {
			if _, err := db.SuppressMany(ctx, "bench", chunk); err != nil {
				b.Fatal(err)
			}
			chunk = chunk[:0]
		}
	}
	s := FromStore(db)
	const pageSize = 50
	for _, q := range []struct {
		name string
		q    Query
	}{
		{"since-desc-first", Query{Sort: "since", Desc: true}},
		{"address-first", Query{Sort: "address"}},
		{"reason-first", Query{Sort: "reason"}},
		{"detail-desc-first", Query{Sort: "detail", Desc: true}},
		{"address-page-3000", Query{Sort: "address", Offset: 2999 * pageSize}},
		{"reason-filter-since", Query{Sort: "since", Desc: true, Reason: "complaint"}},
		{"search-address", Query{Sort: "address", Search: "domain042"}},
	} {
		b.Run(q.name, func(b *testing.B) {
			q.q.Limit = pageSize
			for b.Loop() {
				p, err := s.ListSuppressions(ctx, q.q)
				if err != nil || len(p.Items) == 0 {
					b.Fatalf("page: %d items, total %d, %v", len(p.Items), p.Total, err)
				}
			}
		})
	}
}
