package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// querySet fills db with n suppressions of varied reasons, details, times
// and domains (some with recorded bounces), lifts a few, and returns what
// is left, read back whole.
func querySet(t *testing.T, db *DB, n int) []ListedSuppression {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	reasons := []string{"manual", "import", "hard", "complaint", "soft"}
	details := []string{"user_unknown", "mailbox_full", "", "ses:bounce", "a\x00nul", strings.Repeat("long ", 80) + "x", strings.Repeat("long ", 80) + "y"}
	var list []ManualSuppression
	for i := range n {
		j := (i * 37) % n
		list = append(list, ManualSuppression{Address: fmt.Sprintf("p%04d@d%d.example", j, j%7),
			Reason: reasons[i%len(reasons)], Detail: details[(i/3)%len(details)],
			Since: t0.Add(time.Duration(i%(n/3)) * time.Hour)}) // equal times: ties broken by address
	}
	if _, err := db.SuppressMany(ctx, "test", list); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 10 {
		record(t, db, bounce(fmt.Sprintf("p%04d@d%d.example", i, i%7), []string{"hard", "block"}[i%20/10], t0.Add(time.Duration(i)*time.Minute)))
	}
	for i := 5; i < n; i += 50 {
		if err := db.Lift(ctx, fmt.Sprintf("p%04d@d%d.example", i, i%7), "test"); err != nil {
			t.Fatal(err)
		}
	}
	var all []ListedSuppression
	for cursor := ""; ; {
		page, next, err := db.ListSuppressions(ctx, SuppressionFilter{}, cursor, MaxListPage)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if cursor = next; cursor == "" {
			return all
		}
	}
}

// QuerySuppressions gives what sorting and paging the whole list would,
// for every order, direction, filter and page.
func TestQuerySuppressionsMatchesASort(t *testing.T) {
	db, _ := openTest(t, Options{})
	all := querySet(t, db, 1500)
	key := func(sort string, s ListedSuppression) string {
		switch sort {
		case SortAddress:
			return ""
		case SortReason:
			return s.Reason
		case SortDetail:
			d := strings.ReplaceAll(s.Detail, "\x00", "")
			return d[:min(len(d), maxDetailKey)]
		}
		return fmt.Sprintf("%020d", s.Since.UnixNano())
	}
	filters := []SuppressionFilter{
		{},
		{Reason: "complaint"},
		{Search: "P00"},
		{Domain: "d3.example"},
		{Class: "block"},
		{Reason: "hard", Domain: "d1.example."},
		{Since: time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)},
		{Reason: "nothing"},
	}
	match := func(f SuppressionFilter, s ListedSuppression) bool {
		return (f.Reason == "" || s.Reason == f.Reason) && (f.Class == "" || s.LastClass == f.Class) &&
			(f.Domain == "" || strings.HasSuffix(s.Address, "@"+strings.TrimSuffix(f.Domain, "."))) &&
			(f.Search == "" || strings.Contains(s.Address, strings.ToLower(f.Search))) &&
			(f.Since.IsZero() || !s.Since.Before(f.Since)) && (f.Until.IsZero() || !s.Since.After(f.Until))
	}
	for _, sort := range []string{SortSince, SortAddress, SortReason, SortDetail} {
		for _, desc := range []bool{false, true} {
			for fi, f := range filters {
				var want []ListedSuppression
				for _, s := range all {
					if match(f, s) {
						want = append(want, s)
					}
				}
				slices.SortStableFunc(want, func(a, b ListedSuppression) int {
					c := cmp.Or(cmp.Compare(key(sort, a), key(sort, b)), cmp.Compare(a.Address, b.Address))
					if desc {
						c = -c
					}
					return c
				})
				for _, off := range []int{0, 7, 50, len(want) - 3, len(want) + 5} {
					off = max(off, 0)
					q := SuppressionQuery{SuppressionFilter: f, Sort: sort, Desc: desc, Offset: off, Limit: 25}
					page, total, err := db.QuerySuppressions(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					w := want[min(off, len(want)):min(off+25, len(want))]
					if total != len(want) || !samePage(page, w) {
						t.Fatalf("sort %s desc %v filter %d offset %d: total %d, page %v; want %d, %v",
							sort, desc, fi, off, total, addrs(page), len(want), addrs(w))
					}
				}
			}
		}
	}
}

func addrs(list []ListedSuppression) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Address)
	}
	return out
}

func samePage(a, b []ListedSuppression) bool {
	return slices.EqualFunc(a, b, func(x, y ListedSuppression) bool {
		return x.Address == y.Address && x.Reason == y.Reason && x.Detail == y.Detail && x.Since.Equal(y.Since) &&
			x.LastClass == y.LastClass && x.LastBounce.Equal(y.LastBounce)
	})
}

// A file written before the reason and detail indexes gets them at Open.
func TestSortIndexesBuiltForOldFiles(t *testing.T) {
	db, path := openTest(t, Options{})
	all := querySet(t, db, 300)
	db.Close()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketByReason, bucketByDetail} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keySortIndexed)
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page, total, err := db.QuerySuppressions(context.Background(), SuppressionQuery{Sort: SortReason, Limit: MaxListPage})
	if err != nil || total != len(all) || len(page) != len(all) {
		t.Errorf("after reopening: %d of %d rows (%v), want %d", len(page), total, err, len(all))
	}
}
