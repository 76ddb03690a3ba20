// Package store owns bouncesink's durable state in a bbolt file: one record
// per recipient address, each recipient's event history, the raw messages,
// and the suppression list with the policy that fills it. It knows nothing
// of MIME or SMTP: callers hand it plain observations.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when an address has no record.
var ErrNotFound = errors.New("store: not found")

// ErrInvalidAddress is wrapped by every error Normalize returns, so a caller
// can tell a bad address (a client error) from a storage failure.
var ErrInvalidAddress = errors.New("store: invalid address")

// Observation is one verdict about one recipient, as the store sees it.
type Observation struct {
	Recipient    string // raw address; the store normalises it
	Class        string // hard, soft, block, complaint, autoreply, delayed, delivered, unknown; "admin" in history for Suppress and Lift
	Reason       string
	Status       string // enhanced status code, "5.1.1"
	SMTPCode     int
	Action       string
	Diagnostic   string
	RemoteMTA    string
	FeedbackType string
	Decoder      string
	Rule         string
	Detail       string
}

// Message is one received message with the observations made of it; it is
// recorded in one transaction.
type Message struct {
	Received     time.Time
	EnvelopeFrom string
	EnvelopeTo   []string
	Raw          []byte // stored compressed
	Observations []Observation
}

// Event is one observation in a recipient's history.
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	MessageID uint64    `json:"message_id"`
	Observation
}

// Recipient is the state kept for one normalised address.
type Recipient struct {
	Address string         `json:"address"`
	Counts  map[string]int `json:"counts"` // per class
	// FirstBounce and LastBounce are the earliest and latest receipt of a
	// message naming the address, whatever its class; the Last* fields
	// describe the latest one.
	FirstBounce    time.Time `json:"first_bounce"`
	LastBounce     time.Time `json:"last_bounce"`
	LastClass      string    `json:"last_class"`
	LastReason     string    `json:"last_reason"`
	LastStatus     string    `json:"last_status"`
	LastDiagnostic string    `json:"last_diagnostic"`
	// Recent hard and soft bounce times the policy looks at, oldest first.
	HardTimes []time.Time `json:"hard_times,omitempty"`
	SoftTimes []time.Time `json:"soft_times,omitempty"`
	// Complaints counts complaints since the last Lift; the policy compares
	// it with ComplaintThreshold. Counts["complaint"] keeps the lifetime total.
	Complaints int `json:"complaints,omitempty"`
	// StreaksClearedAt is the latest delivery or Lift: hard and soft bounces
	// received at or before it no longer count toward a suppression.
	StreaksClearedAt time.Time `json:"streaks_cleared_at,omitzero"`

	Suppressed  bool         `json:"suppressed"`
	Suppression *Suppression `json:"suppression,omitempty"`
}

// Suppression says why and since when an address is suppressed.
type Suppression struct {
	Address string    `json:"address"`
	Reason  string    `json:"reason"` // "hard", "complaint", "soft" (policy) or "manual"
	Detail  string    `json:"detail"` // e.g. the last verdict's reason token
	Since   time.Time `json:"since"`
}

// Policy decides when an address is suppressed.
type Policy struct {
	HardThreshold      int           // hard bounces ...
	HardWindow         time.Duration // ... within this window
	ComplaintThreshold int
	SoftThreshold      int           // soft bounces ...
	SoftMinSpan        time.Duration // ... spread over at least this long
	SoftWindow         time.Duration // counted within this window
}

// DefaultPolicy is the policy used when the config sets none.
func DefaultPolicy() Policy {
	return Policy{
		HardThreshold: 2, HardWindow: 30 * 24 * time.Hour,
		ComplaintThreshold: 1,
		SoftThreshold:      5, SoftMinSpan: 3 * 24 * time.Hour, SoftWindow: 30 * 24 * time.Hour,
	}
}

// Writer is what SMTP ingestion needs.
type Writer interface {
	// Record commits the message and all its observations in one
	// transaction, applying the policy; it returns the message id.
	Record(ctx context.Context, m Message) (uint64, error)
}

// Reader is what the HTTP API needs.
type Reader interface {
	Suppression(ctx context.Context, addr string) (Suppression, error) // ErrNotFound if not suppressed
	// Check answers for a whole send list at once: the result has one
	// entry per input address, in order, nil where it is not suppressed.
	Check(ctx context.Context, addrs []string) ([]*Suppression, error)
	Recipient(ctx context.Context, addr string) (Recipient, []Event, error) // ErrNotFound if unknown
	RawMessage(ctx context.Context, id uint64) ([]byte, error)              // decompressed; ErrNotFound
	Ping(ctx context.Context) error
}
