package store

import (
	"context"
	"io"
)

// Item is one record of a store as it is, for copying a whole store to
// another engine (bouncesink migrate). Exactly one field is set.
type Item struct {
	Message     *StoredMessage
	Recipient   *Recipient // its Suppressed and Suppression are ignored
	Event       *AddressedEvent
	Suppression *Suppression
	Audit       *AuditEntry
	Counter     *Counter
}

// AddressedEvent is an event of an address's history.
type AddressedEvent struct {
	Address string
	Event
}

// Counter is one of the activity counters (see Activity): the
// observations of one UTC day, or one hour, counted by class (Kind 'c',
// A the class), by class and reason ('r', A class, B reason) or by
// recipient domain and class ('m', A domain, B class).
type Counter struct {
	Hourly bool
	Period uint32 // days, or hours, since 1970
	Kind   byte
	A, B   string
	N      int64
}

// Copier is implemented by every engine: it reads or writes the whole
// state as it is, with its ids, sequence numbers and times.
type Copier interface {
	// Dump calls fn with every item of the store, read in one snapshot:
	// the messages, then recipients, events, suppressions, audit entries
	// and counters, each kind in the order of its key.
	Dump(ctx context.Context, fn func(Item) error) error
	// Load writes items as they are, replacing what the store holds under
	// the same keys (message id, address, event or audit number, counter
	// key), so that loading the same items again changes nothing. Each
	// call is one transaction.
	Load(ctx context.Context, items []Item) error
	// FinishLoad makes the store ready for use after the last Load: its
	// sizes are counted from the data, and new message ids and sequence
	// numbers start past the loaded ones.
	FinishLoad(ctx context.Context) error
}

// Backuper is implemented by an engine that can write a consistent copy of
// its whole state while it serves: boltstore writes its database file as
// of one read transaction, which the engine opens as it is. An engine with
// a database server is backed up with that server's own tools instead
// (PostgreSQL: pg_dump), and does not implement it.
type Backuper interface {
	// Backup calls start with the size of the copy, in bytes, and writes
	// the copy to the writer start returns; writes to the store go on
	// meanwhile and are not in it. It stops when ctx is done.
	Backup(ctx context.Context, start func(size int64) io.Writer) error
}
