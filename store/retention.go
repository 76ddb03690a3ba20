package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrPruned is wrapped by RawMessage for a message whose raw bytes the
// retention has dropped. It wraps ErrNotFound, so a caller that does not
// tell the two apart answers as for an unknown message.
var ErrPruned = fmt.Errorf("%w: raw message pruned by the retention", ErrNotFound)

// Retention says how long a store keeps what grows with every message;
// Prune applies it. A zero field keeps that part for ever.
//
// What no retention prunes: the recipient records (the policy's state and
// the lifetime counts), the suppression list, the audit trail, the
// message records (envelope and verdicts, which a Rebuild replays) and the
// admin events (Suppress, Lift) of the history, which a Rebuild replays
// too.
type Retention struct {
	// RawMessages is how long a message's raw bytes are kept after its
	// receipt. Once they are pruned, RawMessage returns an error wrapping
	// ErrPruned; Messages lists the message with Raw nil and RawPruned
	// set; Rebuild keeps the message's stored observations, without
	// calling reobserve, and counts it in RebuildStats.NotReread.
	RawMessages time.Duration
	// Events is how long an event (one observation in an address's
	// history) is kept after its time.
	Events time.Duration
	// EventsPerRecipient is how many of an address's latest events are
	// kept, its admin events aside (kept and not counted).
	EventsPerRecipient int
}

// DefaultRetention is what bouncesink serve applies when the config sets
// none: raw messages for 90 days (long enough to reclassify a season's
// bounces after a classifier change), and each address's latest 1,000
// events (MaxHistory, what GET /v1/recipients shows) of the last 400 days
// (the longest Activity series).
func DefaultRetention() Retention {
	return Retention{
		RawMessages:        90 * 24 * time.Hour,
		Events:             MaxActivityDays * 24 * time.Hour,
		EventsPerRecipient: MaxHistory,
	}
}

// MaxActivityDays is the longest daily series Activity returns. Prune
// drops the activity counters of older days, which no Activity reads.
const MaxActivityDays = 400

// Validate reports whether r is usable: no negative field, and no
// retention so short that a message's raw bytes or events could go before
// its first reply is read (under an hour).
func (r Retention) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"RawMessages", r.RawMessages}, {"Events", r.Events}} {
		if d.d < 0 || (d.d > 0 && d.d < time.Hour) {
			errs = append(errs, fmt.Errorf("%s is %s, want 0 (for ever) or at least an hour", d.name, d.d))
		}
	}
	if r.EventsPerRecipient < 0 {
		errs = append(errs, fmt.Errorf("EventsPerRecipient is %d, want 0 (no limit) or more", r.EventsPerRecipient))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: retention: %w", err)
	}
	return nil
}

// PruneStats counts what a Prune deleted.
type PruneStats struct {
	RawMessages int   `json:"raw_messages"` // messages whose raw bytes went
	RawBytes    int64 `json:"raw_bytes"`    // their stored (compressed) bytes
	Events      int   `json:"events"`
	Counters    int   `json:"counters"` // activity counters of days no Activity reads
}

// Pruner applies a Retention. Every engine implements it (Store embeds it).
type Pruner interface {
	// Prune deletes what r says has expired at now: raw messages
	// received before now-r.RawMessages, events older than now-r.Events
	// or beyond an address's latest r.EventsPerRecipient, and activity
	// counters of days before the last MaxActivityDays. It works in small
	// transactions, each deleting a bounded number of entries, so that a
	// server calls it while serving without holding writers back for
	// long; between them, what it deleted is gone for every reader.
	// Messages are taken to arrive in about the order of their receipt
	// times: a raw message received before the cutoff but recorded after
	// one received later may wait for the next Prune.
	//
	// It stops when nothing expired is left or ctx is done, returning
	// what it deleted so far (and ctx's error); calling it again carries
	// on. While a Rebuild runs it fails with ErrRebuilding.
	Prune(ctx context.Context, r Retention, now time.Time) (PruneStats, error)
}
