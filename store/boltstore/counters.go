package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketCounters counts observations by period, so that GET /v1/stats
// reads a few thousand counters instead of every event. A key is:
//
//	granularity  'd' (UTC day) or 'h' (hour)
//	period       days or hours since 1970, 4 bytes big-endian
//	kind         'c' class | 'r' class 0x00 reason | 'm' domain 0x00 class
//
// and its value an 8-byte count. Day counters are kept for ever (a few
// hundred keys a day per active domain); hour counters only for
// keepHours, which the 24-hour window needs: Record drops older ones.
// Observations are counted at their message's receipt time; admin
// actions are not observations and are not counted.
const (
	granDay  = 'd'
	granHour = 'h'

	kindClass  = 'c'
	kindReason = 'r'
	kindDomain = 'm'

	keepHours = 48
)

// keyHoursPruned in bucketMeta is the hour (4 bytes) below which Record
// last dropped the hour counters.
var keyHoursPruned = []byte("hours_pruned")

func periodKey(gran byte, period uint32, kind byte, names ...string) []byte {
	k := make([]byte, 0, 6+32)
	k = append(k, gran)
	k = binary.BigEndian.AppendUint32(k, period)
	k = append(k, kind)
	for i, n := range names {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, n...)
	}
	return k
}

func dayOf(t time.Time) uint32  { return uint32(max(t.Unix(), 0) / 86400) }
func hourOf(t time.Time) uint32 { return uint32(max(t.Unix(), 0) / 3600) }

// tally adds up counter increments in memory: the group commit writes
// them once per key per transaction (see commit.go), where each of the
// messages it carries would otherwise read and write the same six
// counters.
type tally map[string]uint64

// flush adds the tally to the counters, in key order (neighbouring keys
// share pages).
func (t tally) flush(counters *bolt.Bucket) error {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		n := getU64(counters, []byte(k)) + t[k]
		if err := counters.Put([]byte(k), u64(n)); err != nil {
			return fmt.Errorf("counter: %w", err)
		}
	}
	return nil
}

// countObservation counts o about addr received at at, into t if it is
// not nil, else straight into counters; hour counters only when at is
// within keepHours of now.
func countObservation(counters *bolt.Bucket, t tally, now, at time.Time, addr string, o store.Observation) error {
	class := cmp.Or(o.Class, store.ClassUnknown)
	domain := store.Domain(addr)
	count := func(gran byte, period uint32) error {
		for _, k := range [][]byte{
			periodKey(gran, period, kindClass, class),
			periodKey(gran, period, kindReason, class, o.Reason),
			periodKey(gran, period, kindDomain, domain, class),
		} {
			if t != nil {
				t[string(k)]++
				continue
			}
			n := getU64(counters, k) + 1
			if err := counters.Put(k, u64(n)); err != nil {
				return fmt.Errorf("counter: %w", err)
			}
		}
		return nil
	}
	if err := count(granDay, dayOf(at)); err != nil {
		return err
	}
	if h := hourOf(at); h+keepHours > hourOf(now) {
		return count(granHour, h)
	}
	return nil
}

// pruneHours drops the hour counters older than keepHours before now, at
// most once an hour.
func pruneHours(meta, counters *bolt.Bucket, now time.Time) error {
	cutoff := hourOf(now) - min(hourOf(now), keepHours)
	if v := meta.Get(keyHoursPruned); len(v) == 4 && binary.BigEndian.Uint32(v) >= cutoff {
		return nil
	}
	c := counters.Cursor()
	end := periodKey(granHour, cutoff, 0)
	for k, _ := c.Seek([]byte{granHour}); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Seek([]byte{granHour}) {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("prune counters: %w", err)
		}
	}
	return meta.Put(keyHoursPruned, binary.BigEndian.AppendUint32(nil, cutoff))
}

// countEvents counts every observation in events (whose references read
// from heads), for a file written before the counters existed.
func countEvents(events, heads, counters *bolt.Bucket, now time.Time) error {
	hr := newHeadReader(heads)
	return events.ForEach(func(k, v []byte) error {
		e, err := hr.event(k, v)
		if err != nil || e.Class == store.ClassAdmin {
			return err
		}
		return countObservation(counters, nil, now, e.Time, eventAddr(k), e.Observation)
	})
}

// Activity reads the counters Record keeps (see bucketCounters), at the
// DB's clock. Its cost grows with the number of recipient domains seen in
// the last 30 days, not with the number of events.
func (db *DB) Activity(ctx context.Context, opts store.ActivityOptions) (store.Activity, error) {
	if err := ctx.Err(); err != nil {
		return store.Activity{}, fmt.Errorf("store: activity: %w", err)
	}
	if opts.Days <= 0 {
		opts.Days = 30
	}
	opts.Days = min(opts.Days, 400)
	if opts.Top <= 0 {
		opts.Top = 10
	}
	opts.Top = min(opts.Top, 1000)
	now := db.now().UTC()
	act := store.Activity{Now: now}
	err := db.view(func(tx *bolt.Tx) error {
		counters := tx.Bucket(bucketCounters)
		hour, today := hourOf(now), dayOf(now)
		windows := []struct {
			name     string
			gran     byte
			from, to uint32
			start    time.Time
		}{
			{"24h", granHour, hour - 23, hour, time.Unix(int64(hour-23)*3600, 0)},
			{"7d", granDay, today - 6, today, time.Unix(int64(today-6)*86400, 0)},
			{"30d", granDay, today - 29, today, time.Unix(int64(today-29)*86400, 0)},
		}
		for i, w := range windows {
			wa, domains := sumWindow(counters, w.gran, w.from, w.to)
			wa.Window, wa.Start = w.name, w.start.UTC()
			wa.TopDomains = top(domains, opts.Top, func(d store.DomainCount) int { return d.Total })
			act.Windows = append(act.Windows, wa)
			if i == 0 {
				act.TopBlockDomains = top(domains, opts.Top, func(d store.DomainCount) int { return d.ByClass["block"] })
			}
		}
		first := today - uint32(opts.Days-1)
		act.Daily = dailySeries(counters, first, today)
		return nil
	})
	if err != nil {
		return store.Activity{}, fmt.Errorf("store: activity: %w", err)
	}
	return act, nil
}

// sumWindow adds up the counters of the periods from..to of gran.
func sumWindow(counters *bolt.Bucket, gran byte, from, to uint32) (store.WindowActivity, map[string]*store.DomainCount) {
	wa := store.WindowActivity{ByClass: map[string]int{}, ByReason: map[string]map[string]int{}}
	domains := map[string]*store.DomainCount{}
	c := counters.Cursor()
	end := periodKey(gran, to+1, 0)
	for k, v := c.Seek(periodKey(gran, from, 0)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		if len(k) < 6 || len(v) != 8 {
			continue
		}
		n := int(binary.BigEndian.Uint64(v))
		a, b, _ := strings.Cut(string(k[6:]), "\x00")
		switch k[5] {
		case kindClass:
			wa.ByClass[a] += n
			wa.Total += n
		case kindReason:
			if wa.ByReason[a] == nil {
				wa.ByReason[a] = map[string]int{}
			}
			wa.ByReason[a][b] += n
		case kindDomain:
			d := domains[a]
			if d == nil {
				d = &store.DomainCount{Domain: a, ByClass: map[string]int{}}
				domains[a] = d
			}
			d.Total += n
			d.ByClass[b] += n
		}
	}
	wa.Domains = len(domains)
	return wa, domains
}

// top returns the n domains with the highest positive by, highest first,
// ties in domain order.
func top(domains map[string]*store.DomainCount, n int, by func(store.DomainCount) int) []store.DomainCount {
	list := []store.DomainCount{}
	for _, d := range domains {
		if by(*d) > 0 {
			list = append(list, *d)
		}
	}
	slices.SortFunc(list, func(a, b store.DomainCount) int {
		return cmp.Or(cmp.Compare(by(b), by(a)), strings.Compare(a.Domain, b.Domain))
	})
	return list[:min(n, len(list))]
}

// dailySeries returns one entry per day from first to last, zeros included.
func dailySeries(counters *bolt.Bucket, first, last uint32) []store.DayActivity {
	series := make([]store.DayActivity, 0, last-first+1)
	c := counters.Cursor()
	for d := first; d <= last; d++ {
		day := store.DayActivity{Day: time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly), ByClass: map[string]int{}}
		prefix := periodKey(granDay, d, kindClass)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) == 8 {
				n := int(binary.BigEndian.Uint64(v))
				day.ByClass[string(k[len(prefix):])] += n
				day.Total += n
			}
		}
		series = append(series, day)
	}
	return series
}
