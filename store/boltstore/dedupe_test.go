package boltstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

func withDigest(m store.Message, digest string) store.Message {
	m.Digest = []byte(digest)
	return m
}

// What deduplication keeps is bounded: digests older than the window are
// deleted as messages come in.
func TestDigestsArePruned(t *testing.T) {
	p := store.DefaultPolicy()
	p.DuplicateWindow = time.Hour
	db, _ := openTest(t, Options{Policy: p})
	var msgs []store.Message
	for i := range 3000 { // one a minute for 50 hours
		m := bounce(fmt.Sprintf("u%d@example.org", i%100), "soft", day(0).Add(time.Duration(i)*time.Minute))
		msgs = append(msgs, withDigest(m, fmt.Sprint("digest", i)))
	}
	recordMany(t, db, msgs)
	var byTime int
	db.bolt.View(func(tx *bolt.Tx) error {
		byTime = tx.Bucket(bucketDedupeByTime).Stats().KeyN
		return nil
	})
	kept := db.digests.len() // in memory
	if kept != byTime || kept > 61 {
		t.Errorf("after 3000 messages over 50 hours, a window of 1h keeps %d digests (%d by time), want at most 61", kept, byTime)
	}
	// The ones kept still match.
	if _, err := db.Record(context.Background(), msgs[len(msgs)-1]); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("the latest message again: %v, want ErrDuplicate", err)
	}
	checkCounters(t, db)
}

func keepObservations(m store.StoredMessage) ([]store.Observation, error) { return m.Observations, nil }

// checkCounters compares Stats with a count of the data itself.
func checkCounters(t *testing.T, db *DB) {
	t.Helper()
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := store.Stats{SuppressedByReason: map[string]int{}}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		want.Messages = tx.Bucket(bucketMessages).Stats().KeyN
		want.Recipients = tx.Bucket(bucketRecipients).Stats().KeyN
		want.Events = tx.Bucket(bucketEvents).Stats().KeyN
		err := tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			rec, err := decodeHead(0, v)
			want.RawBytes += int64(rec.RawSize)
			want.Duplicates += rec.Duplicates
			return err
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketSuppressions).ForEach(func(k, v []byte) error {
			s, err := decodeSuppression(k, v)
			want.SuppressedByReason[s.Reason]++
			want.Suppressed++
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, the data says %+v", st, want)
	}
}
