package store

import (
	"context"
	"errors"
)

// Options configure Open.
type Options struct {
	Policy Policy
}

// DB is the bbolt-backed store. It implements Writer and Reader.
type DB struct{}

var errTODO = errors.New("store: not implemented yet")

// Open opens (creating if needed, with its parent directory) the database file.
func Open(path string, opts Options) (*DB, error) { return nil, errTODO }

func (db *DB) Close() error { return errTODO }

func (db *DB) Record(ctx context.Context, m Message) (uint64, error) { return 0, errTODO }
func (db *DB) Suppression(ctx context.Context, addr string) (Suppression, error) {
	return Suppression{}, errTODO
}
func (db *DB) Check(ctx context.Context, addrs []string) ([]*Suppression, error) { return nil, errTODO }
func (db *DB) Recipient(ctx context.Context, addr string) (Recipient, []Event, error) {
	return Recipient{}, nil, errTODO
}
func (db *DB) RawMessage(ctx context.Context, id uint64) ([]byte, error) { return nil, errTODO }
func (db *DB) Ping(ctx context.Context) error                            { return errTODO }

// Normalize returns the canonical form of an address: trimmed, angle
// brackets removed, lower-cased, domain in IDNA ASCII form.
func Normalize(addr string) (string, error) { return "", errTODO }
