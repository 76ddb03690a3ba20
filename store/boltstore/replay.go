package boltstore

import (
	"bytes"
	"cmp"
	"fmt"
	"github.com/bouncesink/bouncesink/store"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// adminAction is a Suppress or Lift found in the history, to replay.
type adminAction struct {
	addr   string
	at     time.Time
	seq    uint64
	ev     store.Observation
	detail string // a manual suppression's Detail
}

// adminActions returns every admin event in the live history, oldest first.
func adminActions(tx *bolt.Tx) ([]adminAction, error) {
	suppressions := tx.Bucket(bucketSuppressions)
	var list []adminAction
	err := tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
		// Peek at the class: decoding every event would take far longer.
		if admin, err := isAdminEvent(k, v); err != nil || !admin {
			return err
		}
		e, err := decodeEvent(k, v)
		if err != nil || e.Class != store.ClassAdmin {
			return err
		}
		a := adminAction{addr: eventAddr(k), at: e.Time, seq: e.Seq, ev: e.Observation}
		if e.Reason == store.AdminSuppress {
			a.detail = manualDetail(suppressions, a.addr, e)
		}
		list = append(list, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin events: %w", err)
	}
	slices.SortFunc(list, func(a, b adminAction) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
	})
	return list, nil
}

// manualDetail is the Detail that the manual suppression of event e had.
// Suppress keeps it in the event's Diagnostic; events written before it did
// have it only in the suppression itself, if that is still the one e made.
func manualDetail(suppressions *bolt.Bucket, addr string, e store.Event) string {
	if e.Diagnostic != "" {
		return e.Diagnostic
	}
	v := suppressions.Get([]byte(addr))
	if v == nil {
		return ""
	}
	s, err := decodeSuppression([]byte(addr), v)
	if err != nil || s.Reason != cmp.Or(e.Rule, store.ReasonManual) || !s.Since.Equal(e.Time) {
		return ""
	}
	return s.Detail
}

// replayAdmin applies, in order, the admin actions not yet replayed for as
// long as due says so.
func (r *rebuild) replayAdmin(b stateBuckets, due func(adminAction) bool) error {
	for ; r.next < len(r.admin) && due(r.admin[r.next]); r.next++ {
		a := r.admin[r.next]
		var err error
		switch a.ev.Reason {
		case store.AdminSuppress:
			// Rule names the Reason when it is not "manual" (an import).
			err = applySuppress(b, store.Suppression{Address: a.addr, Reason: cmp.Or(a.ev.Rule, store.ReasonManual), Detail: a.detail, Since: a.at}, a.ev)
		case store.AdminLift:
			_, err = applyLift(b, a.addr, a.at, a.ev)
		default:
			// An action this build does not know: keep it in the history.
			err = appendEvent(b.events, a.addr, a.at, a.ev)
			if err == nil {
				var (
					rec store.Recipient
					ref diagRef
				)
				if rec, ref, err = loadRecipient(b.recipients, a.addr); err == nil {
					err = saveRecipient(b.recipients, rec, ref)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("admin %s of %s at %s: %w", a.ev.Reason, a.addr, a.at.Format(time.RFC3339), err)
		}
	}
	return nil
}

// diffSuppressions counts the suppressions in old and new and lists the
// addresses whose suppression appeared, went or changed its reason,
// calling changed for each of them. It returns new's counts by reason.
func diffSuppressions(st *store.RebuildStats, old, new *bolt.Bucket, changed func(store.SuppressionChange) error) (map[string]int, error) {
	counts := make(map[string]int)
	co, cn := old.Cursor(), new.Cursor()
	ko, vo := co.First()
	kn, vn := cn.First()
	for ko != nil || kn != nil {
		var before, after *store.Suppression
		switch c := compareKeys(ko, kn); {
		case c < 0:
			s, err := decodeSuppression(ko, vo)
			if err != nil {
				return nil, err
			}
			before = &s
			st.SuppressedBefore++
			st.Removed++
			ko, vo = co.Next()
		case c > 0:
			s, err := decodeSuppression(kn, vn)
			if err != nil {
				return nil, err
			}
			after = &s
			counts[s.Reason]++
			st.SuppressedAfter++
			st.Added++
			kn, vn = cn.Next()
		default:
			sb, err := decodeSuppression(ko, vo)
			if err != nil {
				return nil, err
			}
			sa, err := decodeSuppression(kn, vn)
			if err != nil {
				return nil, err
			}
			counts[sa.Reason]++
			st.SuppressedBefore++
			st.SuppressedAfter++
			if sb.Reason != sa.Reason {
				before, after = &sb, &sa
				st.Changed++
			}
			ko, vo = co.Next()
			kn, vn = cn.Next()
		}
		if before != nil || after != nil {
			addr := before
			if addr == nil {
				addr = after
			}
			c := store.SuppressionChange{Address: addr.Address, Before: before, After: after}
			if len(st.Changes) < store.MaxRebuildChanges {
				st.Changes = append(st.Changes, c)
			}
			if err := changed(c); err != nil {
				return nil, err
			}
		}
	}
	return counts, nil
}

// compareKeys orders two cursor keys, nil (past the end) after any other.
func compareKeys(a, b []byte) int {
	switch {
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return bytes.Compare(a, b)
}
