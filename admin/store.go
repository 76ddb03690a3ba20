package admin

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Store is what the admin page reads and changes. FromStore adapts a
// store engine to it; tests may pass a fake.
type Store interface {
	// ListSuppressions returns one page of the suppressions matching q,
	// sorted as q says, and how many match in all.
	ListSuppressions(ctx context.Context, q Query) (Page, error)
	Recipient(ctx context.Context, addr string) (store.Recipient, []store.Event, error) // store.ErrNotFound
	// History returns addr's events before the one numbered before (0:
	// the latest), newest first, at most limit, and the before of the
	// next page (0 after the last); see store.Admin.
	History(ctx context.Context, addr string, before uint64, limit int) ([]store.Event, uint64, error)
	// Audit returns the latest changes of addr's suppression state, newest first.
	Audit(ctx context.Context, addr string, limit int) ([]store.AuditEntry, error)
	RawMessage(ctx context.Context, id uint64) ([]byte, error) // store.ErrNotFound
	// Suppress and Lift change the list; actor names who did it in the
	// audit trail.
	Suppress(ctx context.Context, actor, addr, reason, note string) (store.Suppression, error)
	Lift(ctx context.Context, actor, addr, note string) error // store.ErrNotFound for an address never seen
	// LiftMatching is the bulk lift (store.BulkLifter).
	LiftMatching(ctx context.Context, actor string, f store.LiftFilter, note string, dryRun bool) (store.LiftResult, error)
	// Activity counts the verdicts of the last days UTC days, today included.
	Activity(ctx context.Context, days int) (Activity, error)
	Totals(ctx context.Context) (store.Stats, error)
}

// Query selects and orders suppressions.
type Query struct {
	Search string // substring of the address
	Reason string // suppression reason: hard, soft, complaint, manual, import; "" for any
	Domain string // exact recipient domain; "" for any
	Sort   string // "since" (default), "address", "reason" or "detail"
	Desc   bool
	Offset int
	Limit  int
}

// Page is one page of a suppression listing.
type Page struct {
	Items []store.ListedSuppression
	Total int // matching suppressions, on every page
}

// Activity is what the statistics page draws.
type Activity struct {
	Days         []DayCount    // one per UTC day of the period, oldest first
	Domains      []DomainCount // over the period, most failures first
	BlockDomains []DomainCount // over the last 24 hours, most blocks first
	// ByReason counts the verdicts over the period per class and reason:
	// one reason token may come with more than one class (disabled is
	// hard under a 5xx, soft under a 4xx).
	ByReason map[ClassReason]int
}

// ClassReason is a verdict's class and reason token.
type ClassReason struct{ Class, Reason string }

// DayCount is the verdicts of one UTC day per class.
type DayCount struct {
	Day     time.Time
	ByClass map[string]int
}

// DomainCount is the failing verdicts about one recipient domain.
type DomainCount struct {
	Domain   string
	Failures int // hard, soft and block verdicts
	Blocks   int // of which block
}

// Engine is what FromStore needs of a store engine.
type Engine interface {
	store.Reader
	store.Admin
}

// FromStore adapts db to Store.
func FromStore(db Engine) Store { return dbStore{db} }

type dbStore struct{ db Engine }

func (s dbStore) Recipient(ctx context.Context, addr string) (store.Recipient, []store.Event, error) {
	return s.db.Recipient(ctx, addr)
}

func (s dbStore) History(ctx context.Context, addr string, before uint64, limit int) ([]store.Event, uint64, error) {
	return s.db.History(ctx, addr, before, limit)
}

func (s dbStore) Audit(ctx context.Context, addr string, limit int) ([]store.AuditEntry, error) {
	list, _, err := s.db.Audit(ctx, store.AuditFilter{Address: addr}, 0, limit)
	return list, err
}

func (s dbStore) RawMessage(ctx context.Context, id uint64) ([]byte, error) {
	return s.db.RawMessage(ctx, id)
}

func (s dbStore) Suppress(ctx context.Context, actor, addr, reason, note string) (store.Suppression, error) {
	sup, _, err := s.db.SuppressAs(ctx, actor, store.ManualSuppression{Address: addr, Detail: reason, Note: note})
	return sup, err
}

func (s dbStore) Lift(ctx context.Context, actor, addr, note string) error {
	_, err := s.db.LiftAs(ctx, actor, addr, note)
	return err
}

func (s dbStore) LiftMatching(ctx context.Context, actor string, f store.LiftFilter, note string, dryRun bool) (store.LiftResult, error) {
	return s.db.LiftMatching(ctx, actor, f, note, dryRun)
}

func (s dbStore) Totals(ctx context.Context) (store.Stats, error) { return s.db.Stats(ctx) }

// ListSuppressions sorts and pages in the store, through its indexes
// (store.DB.QuerySuppressions): a page costs the rows before it, not a
// read of the whole list.
func (s dbStore) ListSuppressions(ctx context.Context, q Query) (Page, error) {
	items, total, err := s.db.QuerySuppressions(ctx, store.SuppressionQuery{
		SuppressionFilter: store.SuppressionFilter{Search: q.Search, Reason: q.Reason, Domain: q.Domain},
		Sort:              q.Sort, Desc: q.Desc, Offset: q.Offset, Limit: q.Limit,
	})
	return Page{Items: items, Total: total}, err
}

// domainOf returns the domain of a normalised address.
func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}

// activityTop is how many domains Activity asks the store for: the store
// ranks them by all verdicts, the page by failures, so it reads more than
// it shows.
const activityTop = 200

// Activity reads the store's counters (store.Admin.Activity).
func (s dbStore) Activity(ctx context.Context, days int) (Activity, error) {
	act, err := s.db.Activity(ctx, store.ActivityOptions{Days: days, Top: activityTop})
	if err != nil {
		return Activity{}, err
	}
	out := Activity{ByReason: make(map[ClassReason]int)}
	for _, d := range act.Daily {
		day, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			return Activity{}, errors.New("admin: store activity: bad day " + d.Day)
		}
		out.Days = append(out.Days, DayCount{Day: day, ByClass: d.ByClass})
	}
	// The widest window is the period the page shows.
	var period *store.WindowActivity
	for i := range act.Windows {
		if period == nil || act.Windows[i].Start.Before(period.Start) {
			period = &act.Windows[i]
		}
	}
	if period != nil {
		for class, reasons := range period.ByReason {
			for r, n := range reasons {
				out.ByReason[ClassReason{class, r}] += n
			}
		}
		out.Domains = failing(period.TopDomains, func(d DomainCount) int { return d.Failures })
	}
	out.BlockDomains = failing(act.TopBlockDomains, func(d DomainCount) int { return d.Blocks })
	return out, nil
}

// failing turns the store's domain counts into failure counts, keeping
// those where by is positive, highest first.
func failing(list []store.DomainCount, by func(DomainCount) int) []DomainCount {
	var out []DomainCount
	for _, d := range list {
		dc := DomainCount{Domain: d.Domain, Blocks: d.ByClass["block"],
			Failures: d.ByClass["hard"] + d.ByClass["soft"] + d.ByClass["block"]}
		if by(dc) > 0 {
			out = append(out, dc)
		}
	}
	slices.SortFunc(out, func(a, b DomainCount) int {
		if c := cmp.Compare(by(b), by(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.Domain, b.Domain)
	})
	return out
}

// dayOf returns the start of t's UTC day.
func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
