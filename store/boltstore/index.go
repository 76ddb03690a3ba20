package boltstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketBySince orders the suppression list by time: its keys are a
// suppression's Since (Unix nanoseconds, 8 bytes big-endian) followed by
// the address, its values empty. suppressTx and unsuppressTx keep it
// beside bucketSuppressions; a Rebuild and Open (for files written before
// it existed) build it from that bucket.

// keyIndexed in bucketMeta says the time index and the activity counters
// have been built for this file.
var keyIndexed = []byte("indexed")

func sinceKey(since time.Time, addr string) []byte {
	ns := since.UnixNano()
	if ns < 0 {
		ns = 0 // before 1970: not a real suppression time; keep the order unsigned
	}
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(addr)), uint64(ns))
	return append(k, addr...)
}

// indexAll builds the order indexes and the activity counters of a file
// written before they existed.
func indexAll(tx *bolt.Tx, now time.Time) error {
	if err := rebuildSortIndexes(tx, tx.Bucket(bucketSuppressions)); err != nil {
		return err
	}
	if err := countEvents(tx.Bucket(bucketEvents), tx.Bucket(bucketMessages), tx.Bucket(bucketCounters), now); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyIndexed, []byte("1"))
}

// ListSuppressions lists the suppressions f selects, newest first (by
// Since, then address in reverse order), at most limit of them (MaxListPage
// when limit is not positive or larger). cursor is "" for the first page,
// else the next cursor of the previous page; next is "" after the last
// page.
//
// A cursor is a position in that order, not an offset: suppressions added
// while a client pages through the list (which are newer, so sort before
// the first page) or lifted meanwhile neither shift nor repeat the rows
// of later pages.
func (db *DB) ListSuppressions(ctx context.Context, f store.SuppressionFilter, cursor string, limit int) (page []store.ListedSuppression, next string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list suppressions: %w", err)
	}
	if limit <= 0 || limit > store.MaxListPage {
		limit = store.MaxListPage
	}
	var start []byte
	if cursor != "" {
		if start, err = base64.RawURLEncoding.DecodeString(cursor); err != nil || len(start) < 8 {
			return nil, "", fmt.Errorf("store: list suppressions: %w %q", store.ErrBadCursor, cursor)
		}
	}
	if !f.Until.IsZero() {
		end := sinceKey(f.Until.Add(1), "")
		if start == nil || bytes.Compare(end, start) < 0 {
			start = end
		}
	}
	f.Search = strings.ToLower(f.Search)
	domainSuffix := ""
	if f.Domain != "" {
		domainSuffix = "@" + strings.ToLower(strings.TrimSuffix(f.Domain, "."))
	}
	var floor []byte
	if !f.Since.IsZero() {
		floor = sinceKey(f.Since, "")
	}
	err = db.view(func(tx *bolt.Tx) error {
		suppressions, recipients := tx.Bucket(bucketSuppressions), tx.Bucket(bucketRecipients)
		c := tx.Bucket(bucketBySince).Cursor()
		var k []byte
		if start == nil {
			k, _ = c.Last()
		} else {
			k, _ = seekBelow(c, start) // start itself was on the last page
		}
		for n := 0; k != nil; k, _ = c.Prev() {
			if n++; n%checkCtxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if floor != nil && bytes.Compare(k, floor) < 0 {
				break
			}
			addr := string(k[8:])
			if (domainSuffix != "" && !strings.HasSuffix(addr, domainSuffix)) ||
				(f.Search != "" && !strings.Contains(addr, f.Search)) {
				continue
			}
			v := suppressions.Get(k[8:])
			if v == nil {
				return fmt.Errorf("time index names %s, which is not suppressed", addr)
			}
			s, err := decodeSuppression(k[8:], v)
			if err != nil {
				return err
			}
			if f.Reason != "" && s.Reason != f.Reason {
				continue
			}
			item := store.ListedSuppression{Suppression: s}
			if v := recipients.Get(k[8:]); v != nil {
				r, _, err := decodeRecipient(addr, v) // a list shows no diagnostic
				if err != nil {
					return err
				}
				item.LastClass, item.LastReason, item.LastStatus, item.LastBounce = r.LastClass, r.LastReason, r.LastStatus, r.LastBounce
			}
			if f.Class != "" && item.LastClass != f.Class {
				continue
			}
			if len(page) == limit {
				// One more row matches: the page ends at the previous one.
				last := page[len(page)-1]
				next = base64.RawURLEncoding.EncodeToString(sinceKey(last.Since, last.Address))
				return nil
			}
			page = append(page, item)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list suppressions: %w", err)
	}
	return page, next, nil
}
