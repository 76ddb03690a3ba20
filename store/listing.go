package store

import (
	"errors"
	"time"
)

// SuppressionFilter selects suppressions for ListSuppressions. Zero
// fields select everything.
type SuppressionFilter struct {
	Reason string    // the Suppression's Reason: hard, soft, complaint, manual, import
	Class  string    // the class of the address's latest verdict (Recipient.LastClass)
	Domain string    // the recipient domain, exactly (normalised like an address's)
	Since  time.Time // suppressed at or after
	Until  time.Time // suppressed at or before
	Search string    // a substring of the address, case-insensitive
}

// ListedSuppression is a suppression with what the address's record says
// of its latest verdict, for a list people read.
type ListedSuppression struct {
	Suppression
	LastClass  string    `json:"last_class"`
	LastReason string    `json:"last_reason"`
	LastStatus string    `json:"last_status"`
	LastBounce time.Time `json:"last_bounce,omitzero"`
}

// MaxListPage is the most suppressions ListSuppressions returns at once.
const MaxListPage = 1000

// ErrBadCursor is wrapped by the errors of a cursor that was not handed out
// by the listing it is given to.
var ErrBadCursor = errors.New("store: bad cursor")

// MaxHistory is the most events Recipient returns: the latest ones.
const MaxHistory = 1000
