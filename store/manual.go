package store

import (
	"cmp"
	"time"
)

// Admin events: an entry in an address's history for each Suppress and
// Lift, with Class ClassAdmin and the action as Reason. Rebuild replays
// them, so they keep what it needs: a suppression's Detail in Diagnostic,
// and its Reason in Rule when that is not ReasonManual (an import).
const (
	AdminSuppress = "suppress"
	AdminLift     = "lift"
)

// ReasonManual is the Reason of a suppression made by hand.
const ReasonManual = "manual"

// ManualSuppression is a suppression that an admin or an import asks for.
type ManualSuppression struct {
	Address string
	Reason  string    // the Suppression's Reason: "manual" when empty; imports say "import"
	Detail  string    // why, in a word or a line
	Since   time.Time // zero or later than now means now
	Note    string    // kept in the address's history and in the audit trail
}

// SuppressResult says what SuppressMany did with one ManualSuppression.
type SuppressResult struct {
	Suppression Suppression // the suppression in force: the new one, or the one that stands
	Added       bool        // false when the address was suppressed already
	Err         error       // an invalid address (wraps ErrInvalidAddress): nothing done
}

// Resolve returns the suppression m asks for at now: its address
// normalised, Reason ReasonManual when empty, Since now when zero or later.
// Errors wrap ErrInvalidAddress.
func (m ManualSuppression) Resolve(now time.Time) (Suppression, error) {
	key, err := Normalize(m.Address)
	if err != nil {
		return Suppression{}, err
	}
	now = now.UTC().Round(0)
	s := Suppression{Address: key, Reason: cmp.Or(m.Reason, ReasonManual), Detail: m.Detail, Since: m.Since.UTC().Round(0)}
	if s.Since.IsZero() || s.Since.After(now) {
		s.Since = now
	}
	return s, nil
}

// AdminEvent is the history entry of an admin action on addr.
func AdminEvent(addr, action, note string) Observation {
	return Observation{Recipient: addr, Class: ClassAdmin, Reason: action, Decoder: "admin", Detail: note}
}

// SuppressEvent is the history entry of the manual suppression s, which
// keeps its reason and detail so that Rebuild can restore it as it was.
func SuppressEvent(s Suppression, note string) Observation {
	ev := AdminEvent(s.Address, AdminSuppress, note)
	ev.Diagnostic = s.Detail
	if s.Reason != ReasonManual {
		ev.Rule = s.Reason
	}
	return ev
}
