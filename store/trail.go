package store

import (
	"time"
)

// Actors the store names itself. The API passes its token names.
const (
	ActorAdmin      = "admin"      // Suppress and Lift, which take no actor
	ActorPolicy     = "policy"     // Record: the policy suppressed the address
	ActorReclassify = "reclassify" // Rebuild changed the suppression
)

// Audit actions.
const (
	AuditSuppress = "suppress"
	AuditLift     = "lift"
	AuditChange   = "change" // a Rebuild suppressed the address for another reason
)

// AuditEntry is one change of an address's suppression state.
type AuditEntry struct {
	Seq     uint64    `json:"seq"` // increases with every entry; never reused
	Time    time.Time `json:"time"`
	Address string    `json:"address"`
	Action  string    `json:"action"` // suppress, lift, change
	// Actor is who made the change: an API token's name, "admin",
	// "policy", "reclassify", or what an importer calls itself.
	Actor  string       `json:"actor"`
	Before *Suppression `json:"before"` // nil where it was not suppressed
	After  *Suppression `json:"after"`  // nil where it is not suppressed
	Note   string       `json:"note"`
	// For the policy: the message and the verdict in it that tipped the
	// address over (the earlier ones are in its history).
	MessageID uint64       `json:"message_id,omitempty"`
	Verdict   *Observation `json:"verdict,omitempty"`
}

// MaxAuditPage is the most entries Audit and AuditAfter return at once.
const MaxAuditPage = 1000

// AuditFilter selects entries for Audit; zero fields select all.
type AuditFilter struct {
	Address string    // normalised by Audit
	Actor   string    // exactly
	Since   time.Time // entries at or after
}
