package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/bouncesink/bouncesink/store"

	bolt "go.etcd.io/bbolt"
)

// Messages lists recorded messages in id order, starting after id after (0
// for the first page), at most limit of them (MaxMessagesPage when limit
// is not positive or larger). Since each one carries its raw bytes, a
// caller reading a large store pages through it.
func (db *DB) Messages(ctx context.Context, after uint64, limit int) ([]store.StoredMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	if limit <= 0 || limit > store.MaxMessagesPage {
		limit = store.MaxMessagesPage
	}
	var page []storedBytes
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		page, err = readMessages(tx, after, limit, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	out := make([]store.StoredMessage, len(page))
	for i, sb := range page {
		if out[i], err = db.decode(sb); err != nil {
			return nil, fmt.Errorf("store: messages: %w", err)
		}
	}
	return out, nil
}

// storedBytes is a message as stored, copied out of its transaction so
// that decoding and inflating happen outside it.
type storedBytes struct {
	id        uint64
	head, raw []byte
}

// readMessages copies up to limit messages after id after, stopping early
// once maxBytes (if positive) of stored bytes are read; it always reads at
// least one message if there is one.
func readMessages(tx *bolt.Tx, after uint64, limit, maxBytes int) ([]storedBytes, error) {
	var page []storedBytes
	raws := tx.Bucket(bucketRaw)
	c := tx.Bucket(bucketMessages).Cursor()
	size := 0
	for k, v := c.Seek(u64(after + 1)); k != nil && len(page) < limit; k, v = c.Next() {
		if maxBytes > 0 && len(page) > 0 && size >= maxBytes {
			break
		}
		if len(k) != 8 {
			return nil, fmt.Errorf("message key %x: not an id", k)
		}
		id := binary.BigEndian.Uint64(k)
		raw := raws.Get(k) // nil once the retention pruned it
		page = append(page, storedBytes{id: id, head: bytes.Clone(v), raw: bytes.Clone(raw)})
		size += len(v) + int(storedRawLen(raw))
	}
	return page, nil
}

// decode parses the head and inflates the raw bytes.
func (db *DB) decode(sb storedBytes) (store.StoredMessage, error) {
	rec, err := decodeHead(sb.id, sb.head)
	if err != nil {
		return store.StoredMessage{}, err
	}
	m := store.StoredMessage{
		ID:           sb.id,
		Received:     rec.Received,
		EnvelopeFrom: rec.EnvelopeFrom,
		EnvelopeTo:   rec.EnvelopeTo,
		RawPruned:    sb.raw == nil,

		Duplicates:    rec.Duplicates,
		LastDuplicate: rec.LastDuplicate,
	}
	if sb.raw != nil {
		m.Raw, err = db.decompress(sb.raw, rec.RawSize)
		if errors.Is(err, errSegmentGone) {
			m.RawPruned = true
		} else if err != nil {
			return store.StoredMessage{}, fmt.Errorf("message %d: %w", sb.id, err)
		}
	}
	for _, o := range rec.Observations {
		m.Observations = append(m.Observations, store.Observation(o))
	}
	return m, nil
}
