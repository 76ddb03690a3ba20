package store

import (
	"time"
)

// Stats are the sizes of the store.
type Stats struct {
	Messages           int            `json:"messages"`
	Recipients         int            `json:"recipients"`
	Events             int            `json:"events"`
	Suppressed         int            `json:"suppressed"`
	SuppressedByReason map[string]int `json:"suppressed_by_reason"` // "hard", "soft", "complaint", "manual"
	// RawBytes is the size of the raw messages kept, as received (before
	// compression): what Message.RawQuota limits. Duplicates counts the
	// messages received again within the duplicate window (Writer.Record).
	RawBytes   int64 `json:"raw_bytes"`
	Duplicates int   `json:"duplicates"`
}

// StoredMessage is a recorded message read back: its raw bytes
// decompressed and the observations recorded with it.
type StoredMessage struct {
	ID           uint64        `json:"id"`
	Received     time.Time     `json:"received"`
	EnvelopeFrom string        `json:"envelope_from"`
	EnvelopeTo   []string      `json:"envelope_to"`
	Raw          []byte        `json:"raw"`
	RawPruned    bool          `json:"raw_pruned,omitempty"` // Raw is nil: the retention dropped it
	Observations []Observation `json:"observations"`
	// Duplicates counts the times the same message (the same Digest) was
	// received again within the duplicate window, the latest at
	// LastDuplicate; they were acknowledged but counted nowhere.
	Duplicates    int       `json:"duplicates,omitempty"`
	LastDuplicate time.Time `json:"last_duplicate,omitzero"`
}

// MaxMessagesPage is the most messages Messages returns at once.
const MaxMessagesPage = 1000
