package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// querySet fills db with n suppressions of varied reasons, details, times
// and domains (some with recorded bounces), lifts a few, and returns what
// is left, read back whole.
func querySet(t *testing.T, db store.Store, n int) []store.ListedSuppression {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	reasons := []string{"manual", "import", "hard", "complaint", "soft"}
	details := []string{"user_unknown", "mailbox_full", "", "ses:bounce", "a\x00nul", strings.Repeat("long ", 80) + "x", strings.Repeat("long ", 80) + "y"}
	var list []store.ManualSuppression
	for i := range n {
		j := (i * 37) % n
		list = append(list, store.ManualSuppression{Address: fmt.Sprintf("p%04d@d%d.example", j, j%7),
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
		if _, err := db.LiftAs(ctx, "test", fmt.Sprintf("p%04d@d%d.example", i, i%7), "test"); err != nil {
			t.Fatal(err)
		}
	}
	var all []store.ListedSuppression
	for cursor := ""; ; {
		page, next, err := db.ListSuppressions(ctx, store.SuppressionFilter{}, cursor, store.MaxListPage)
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
// for every order, direction, filter and page, with the total.
func testQuerySuppressions(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	all := querySet(t, db, 1500)
	key := func(sort string, s store.ListedSuppression) string {
		switch sort {
		case store.SortAddress:
			return ""
		case store.SortReason:
			return s.Reason
		case store.SortDetail:
			// As stored: a NUL, which a PostgreSQL text cannot hold, is
			// U+FFFD there, and sorts as one in every engine.
			return store.Clip(strings.ReplaceAll(s.Detail, "\x00", "\uFFFD"), store.MaxDetailLen)
		}
		return fmt.Sprintf("%020d", s.Since.UnixNano())
	}
	filters := []store.SuppressionFilter{
		{},
		{Reason: "complaint"},
		{Search: "P00"},
		{Domain: "d3.example"},
		{Class: "block"},
		{Reason: "hard", Domain: "d1.example."},
		{Since: time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)},
		{Reason: "nothing"},
	}
	match := func(f store.SuppressionFilter, s store.ListedSuppression) bool {
		return (f.Reason == "" || s.Reason == f.Reason) && (f.Class == "" || s.LastClass == f.Class) &&
			(f.Domain == "" || strings.HasSuffix(s.Address, "@"+strings.TrimSuffix(f.Domain, "."))) &&
			(f.Search == "" || strings.Contains(s.Address, strings.ToLower(f.Search))) &&
			(f.Since.IsZero() || !s.Since.Before(f.Since)) && (f.Until.IsZero() || !s.Since.After(f.Until))
	}
	for _, sort := range []string{store.SortSince, store.SortAddress, store.SortReason, store.SortDetail} {
		for _, desc := range []bool{false, true} {
			for fi, f := range filters {
				var want []store.ListedSuppression
				for _, s := range all {
					if match(f, s) {
						want = append(want, s)
					}
				}
				slices.SortStableFunc(want, func(a, b store.ListedSuppression) int {
					c := cmp.Or(cmp.Compare(key(sort, a), key(sort, b)), cmp.Compare(a.Address, b.Address))
					if desc {
						c = -c
					}
					return c
				})
				for _, off := range []int{0, 7, 50, len(want) - 3, len(want) + 5} {
					off = max(off, 0)
					q := store.SuppressionQuery{SuppressionFilter: f, Sort: sort, Desc: desc, Offset: off, Limit: 25}
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

func addrs(list []store.ListedSuppression) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Address)
	}
	return out
}

func samePage(a, b []store.ListedSuppression) bool {
	return slices.EqualFunc(a, b, func(x, y store.ListedSuppression) bool {
		return x.Address == y.Address && x.Reason == y.Reason && x.Detail == y.Detail && x.Since.Equal(y.Since) &&
			x.LastClass == y.LastClass && x.LastBounce.Equal(y.LastBounce)
	})
}
