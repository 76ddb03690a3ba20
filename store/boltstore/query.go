package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// bucketByReason and bucketByDetail order the suppression list by reason
// and by detail: their keys are the reason (or the detail as stored,
// store.Clip'ped to store.MaxDetailLen, its NULs made U+FFFD as the
// PostgreSQL engine stores them), a NUL byte and the address; their
// values empty. suppressTx and unsuppressTx keep them, with
// bucketBySince, beside bucketSuppressions.
var (
	bucketByReason = []byte("by_reason")
	bucketByDetail = []byte("by_detail")
	// keySortIndexed in bucketMeta says the reason and detail indexes have
	// been built for this file.
	keySortIndexed = []byte("sort_indexed")
)

func reasonKey(reason, addr string) []byte {
	return indexKey(store.Clip(reason, store.MaxReasonLen), addr)
}

func detailKey(detail, addr string) []byte {
	return indexKey(store.Clip(detail, store.MaxDetailLen), addr)
}

func indexKey(v, addr string) []byte {
	v = strings.ReplaceAll(v, "\x00", "\uFFFD")
	return append(append(append(make([]byte, 0, len(v)+1+len(addr)), v...), 0), addr...)
}

// indexKeyAddr is the address in a by_reason or by_detail key.
func indexKeyAddr(k []byte) []byte {
	_, addr, _ := bytes.Cut(k, []byte{0})
	return addr
}

// sortIndexes are the order indexes of the suppression list.
type sortIndexes struct{ since, reason, detail *bolt.Bucket }

func (x sortIndexes) put(s store.Suppression) error {
	if x.since == nil {
		return nil // a Rebuild's staging state: indexed when it swaps
	}
	for _, b := range []struct {
		bucket *bolt.Bucket
		key    []byte
	}{{x.since, sinceKey(s.Since, s.Address)}, {x.reason, reasonKey(s.Reason, s.Address)}, {x.detail, detailKey(s.Detail, s.Address)}} {
		if err := b.bucket.Put(b.key, nil); err != nil {
			return fmt.Errorf("suppression index: %w", err)
		}
	}
	return nil
}

func (x sortIndexes) delete(s store.Suppression) error {
	if x.since == nil {
		return nil
	}
	for _, b := range []struct {
		bucket *bolt.Bucket
		key    []byte
	}{{x.since, sinceKey(s.Since, s.Address)}, {x.reason, reasonKey(s.Reason, s.Address)}, {x.detail, detailKey(s.Detail, s.Address)}} {
		if err := b.bucket.Delete(b.key); err != nil {
			return fmt.Errorf("suppression index: %w", err)
		}
	}
	return nil
}

// rebuildSortIndexes replaces the order indexes with those of suppressions.
func rebuildSortIndexes(tx *bolt.Tx, suppressions *bolt.Bucket) error {
	var x sortIndexes
	for _, ix := range []struct {
		name []byte
		b    **bolt.Bucket
	}{{bucketBySince, &x.since}, {bucketByReason, &x.reason}, {bucketByDetail, &x.detail}} {
		if err := tx.DeleteBucket(ix.name); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return fmt.Errorf("drop index %s: %w", ix.name, err)
		}
		b, err := tx.CreateBucket(ix.name)
		if err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, err)
		}
		*ix.b = b
	}
	err := suppressions.ForEach(func(k, v []byte) error {
		s, err := decodeSuppression(k, v)
		if err != nil {
			return err
		}
		return x.put(s)
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keySortIndexed, []byte("1"))
}

// QuerySuppressions returns the page of the suppressions q selects, in
// q's order, ties broken by address (so a page is the same on every
// call), the whole order reversed when q.Desc; and how many match in all.
// The order comes from an index per column: a page costs the index keys
// before it (and, with filters on other columns, their rows), never the
// whole list in memory. The total costs nothing without filters or with
// the reason alone (counters), and a walk of the index keys otherwise.
func (db *DB) QuerySuppressions(ctx context.Context, q store.SuppressionQuery) (page []store.ListedSuppression, total int, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: query suppressions: %w", err)
	}
	if q.Limit <= 0 || q.Limit > store.MaxListPage {
		q.Limit = store.MaxListPage
	}
	q.Offset = max(q.Offset, 0)
	f := q.SuppressionFilter
	f.Search = strings.ToLower(f.Search)
	domainSuffix := ""
	if f.Domain != "" {
		domainSuffix = "@" + strings.ToLower(strings.TrimSuffix(f.Domain, "."))
	}
	cheap := func(addr []byte) bool {
		return (domainSuffix == "" || bytes.HasSuffix(addr, []byte(domainSuffix))) &&
			(f.Search == "" || bytes.Contains(addr, []byte(f.Search)))
	}
	needRow := f.Reason != "" || !f.Since.IsZero() || !f.Until.IsZero()
	// Without filters, or with the reason alone, the counters know the
	// total and the walk can stop at the end of the page.
	counted := f.Search == "" && domainSuffix == "" && f.Class == "" && f.Since.IsZero() && f.Until.IsZero()

	matched := 0 // rows that match, up to where the walk stopped
	err = db.view(func(tx *bolt.Tx) error {
		suppressions, recipients := tx.Bucket(bucketSuppressions), tx.Bucket(bucketRecipients)
		var (
			c      *bolt.Cursor
			prefix []byte // the keys to walk, when the index can narrow them
			addrOf = func(k []byte) []byte { return k }
		)
		switch q.Sort {
		case store.SortAddress:
			c = suppressions.Cursor()
		case store.SortReason:
			c, addrOf = tx.Bucket(bucketByReason).Cursor(), indexKeyAddr
			if f.Reason != "" {
				prefix = append([]byte(f.Reason), 0)
			}
		case store.SortDetail:
			c, addrOf = tx.Bucket(bucketByDetail).Cursor(), indexKeyAddr
		default:
			c, addrOf = tx.Bucket(bucketBySince).Cursor(), func(k []byte) []byte { return k[8:] }
		}
		if counted {
			if total, err = suppressedTotal(tx, f.Reason); err != nil {
				return err
			}
		}
		k := first(c, prefix, q.Desc)
		for n := 0; k != nil && bytes.HasPrefix(k, prefix); k = step(c, q.Desc) {
			if n++; n%checkCtxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			addr := addrOf(k)
			if !cheap(addr) {
				continue
			}
			var s *store.Suppression
			if needRow {
				v := suppressions.Get(addr)
				if v == nil {
					return fmt.Errorf("an index names %s, which is not suppressed", addr)
				}
				sup, err := decodeSuppression(addr, v)
				if err != nil {
					return err
				}
				if (f.Reason != "" && sup.Reason != f.Reason) || (!f.Since.IsZero() && sup.Since.Before(f.Since)) ||
					(!f.Until.IsZero() && sup.Since.After(f.Until)) {
					continue
				}
				s = &sup
			}
			var r *store.Recipient
			if f.Class != "" {
				if r, err = listedRecipient(recipients, addr); err != nil {
					return err
				}
				if r == nil || r.LastClass != f.Class {
					continue
				}
			}
			matched++
			if matched <= q.Offset || len(page) == q.Limit {
				if counted && len(page) == q.Limit {
					return nil // the counters have the total
				}
				continue
			}
			item, err := listed(suppressions, recipients, addr, s, r)
			if err != nil {
				return err
			}
			page = append(page, item)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: query suppressions: %w", err)
	}
	if !counted {
		total = matched // the walk went to the end
	}
	return page, total, nil
}

// first is the first key of the walk: of prefix, or of the bucket.
func first(c *bolt.Cursor, prefix []byte, desc bool) []byte {
	var k []byte
	switch {
	case !desc && prefix == nil:
		k, _ = c.First()
	case !desc:
		k, _ = c.Seek(prefix)
	case prefix == nil:
		k, _ = c.Last()
	default:
		// Past every key of prefix: prefix with its last byte raised.
		end := bytes.Clone(prefix)
		end[len(end)-1]++
		k, _ = seekBelow(c, end)
	}
	return k
}

func step(c *bolt.Cursor, desc bool) []byte {
	var k []byte
	if desc {
		k, _ = c.Prev()
	} else {
		k, _ = c.Next()
	}
	return k
}

// suppressedTotal is the number of suppressions with reason ("" for
// all), from the counters.
func suppressedTotal(tx *bolt.Tx, reason string) (int, error) {
	c := tx.Bucket(bucketMeta).Cursor()
	total := 0
	for k, v := c.Seek(prefixSuppressed); k != nil && bytes.HasPrefix(k, prefixSuppressed); k, v = c.Next() {
		if len(v) != 8 {
			return 0, fmt.Errorf("suppression counter %q: %d bytes", k, len(v))
		}
		if reason == "" || string(k[len(prefixSuppressed):]) == reason {
			total += int(binary.BigEndian.Uint64(v))
		}
	}
	return total, nil
}

func listedRecipient(recipients *bolt.Bucket, addr []byte) (*store.Recipient, error) {
	v := recipients.Get(addr)
	if v == nil {
		return nil, nil
	}
	r, _, err := decodeRecipient(string(addr), v) // a list shows no diagnostic
	return &r, err
}

// listed makes the store.ListedSuppression of addr from what the walk read, and
// reads the rest.
func listed(suppressions, recipients *bolt.Bucket, addr []byte, s *store.Suppression, r *store.Recipient) (store.ListedSuppression, error) {
	if s == nil {
		v := suppressions.Get(addr)
		if v == nil {
			return store.ListedSuppression{}, fmt.Errorf("an index names %s, which is not suppressed", addr)
		}
		sup, err := decodeSuppression(addr, v)
		if err != nil {
			return store.ListedSuppression{}, err
		}
		s = &sup
	}
	item := store.ListedSuppression{Suppression: *s}
	if r == nil {
		var err error
		if r, err = listedRecipient(recipients, addr); err != nil {
			return store.ListedSuppression{}, err
		}
	}
	if r != nil {
		item.LastClass, item.LastReason, item.LastStatus, item.LastBounce = r.LastClass, r.LastReason, r.LastStatus, r.LastBounce
	}
	return item, nil
}
