package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Sources of a suppression, for LiftFilter.Source: who put it there.
const (
	SourcePolicy = "policy" // the policy: Reason hard, soft or complaint
	SourceManual = "manual" // by hand: Reason manual
	SourceImport = "import" // an import: Reason import
)

// SourceOf is the source of a suppression with this Reason.
func SourceOf(reason string) string {
	switch reason {
	case ReasonManual:
		return SourceManual
	case "import":
		return SourceImport
	}
	return SourcePolicy
}

// LiftFilter selects the suppressions a bulk lift takes off the list:
// those that every field set selects. The fields of SuppressionFilter mean
// what they mean for ListSuppressions (Class is the class of the address's
// latest verdict, Since and Until bound the suppression's Since); the
// others narrow it further.
type LiftFilter struct {
	SuppressionFilter
	Source  string // SourcePolicy, SourceManual or SourceImport
	Detail  string // the Suppression's Detail, exactly: the verdict's reason ("user_unknown"), an import's "ses:bounce"
	Decoder string // the Suppression's Decoder, exactly
	Rule    string // the Suppression's Rule, exactly
}

// ErrEmptyFilter is returned by LiftMatching for a filter that selects
// nothing in particular: lifting the whole list takes a filter that says so
// (Until now, say).
var ErrEmptyFilter = errors.New("store: a bulk lift needs a filter")

// Empty reports whether f sets no field.
func (f LiftFilter) Empty() bool { return f == LiftFilter{} }

// Matches reports whether f selects s, an address's suppression, given
// the class of the address's latest verdict. Engines may narrow with
// their indexes first, but the last word is this one, so that both agree.
func (f LiftFilter) Matches(s Suppression, lastClass string) bool {
	switch {
	case f.Reason != "" && s.Reason != f.Reason,
		f.Class != "" && lastClass != f.Class,
		f.Domain != "" && !strings.HasSuffix(s.Address, "@"+strings.ToLower(strings.TrimSuffix(f.Domain, "."))),
		!f.Since.IsZero() && s.Since.Before(f.Since),
		!f.Until.IsZero() && s.Since.After(f.Until),
		f.Search != "" && !strings.Contains(s.Address, strings.ToLower(f.Search)),
		f.Source != "" && SourceOf(s.Reason) != f.Source,
		f.Detail != "" && s.Detail != f.Detail,
		f.Decoder != "" && s.Decoder != f.Decoder,
		f.Rule != "" && s.Rule != f.Rule:
		return false
	}
	return true
}

// LiftSampleSize is the most suppressions LiftResult.Sample holds.
const LiftSampleSize = 20

// LiftChunk is the most addresses one transaction of LiftMatching lifts.
const LiftChunk = 500

// LiftResult says what LiftMatching did, or, in a dry run, would do.
type LiftResult struct {
	// Matched is how many suppressions the filter selected; Lifted how
	// many were lifted (0 in a dry run; fewer than Matched only when some
	// were lifted or changed by someone else meanwhile).
	Matched int `json:"matched"`
	Lifted  int `json:"lifted"`
	// Sample is the first LiftSampleSize of them, in address order, as
	// they were before the lift.
	Sample []Suppression `json:"sample"`
	// Cutoff is the time the lift began: suppressions made after it are
	// never lifted by it, whatever the filter's Until.
	Cutoff time.Time `json:"cutoff"`
}

// BulkLifter is the bulk undo of an over-suppression (a broken DKIM key,
// a blocklisted sending IP read as bounces, a bad import): part of Admin.
type BulkLifter interface {
	// LiftMatching lifts every suppression f selects, as LiftAs lifts one:
	// the address's history gets an admin lift event with note, the
	// policy's counters of the address are reset, and the audit trail gets
	// one lift entry per address, naming actor and note (so every webhook
	// hears of each). f must not be Empty (ErrEmptyFilter); note must not
	// be empty. Only suppressions made at or before the call began (the
	// Cutoff) are lifted, so a bounce arriving meanwhile is not undone.
	//
	// With dryRun nothing changes: the result counts what would be lifted
	// and samples it. Otherwise the lift runs in transactions of at most
	// LiftChunk addresses, in address order, each re-checking its
	// addresses under the filter; a failure part way (ctx done, storage
	// error) returns the error with a result counting what earlier
	// transactions lifted, each whole, and calling again with the same
	// filter lifts the rest. It fails with ErrRebuilding while a Rebuild
	// runs.
	LiftMatching(ctx context.Context, actor string, f LiftFilter, note string, dryRun bool) (LiftResult, error)
}

// LiftInChunks is LiftMatching's engine-neutral part, for the engines: it
// checks f and note, fixes the Cutoff at now and bounds f.Until by it, and
// walks the matches in address order a chunk at a time. find returns the
// addresses after after that f selects, at most limit (with limit 0 it
// counts them all and returns none), adds to res.Sample, and counts them;
// lift lifts one chunk in one transaction, re-checking each address under
// f, and says how many it lifted.
func LiftInChunks(now time.Time, actor string, f LiftFilter, note string, dryRun bool,
	find func(f LiftFilter, after string, limit int, res *LiftResult) (addrs []string, n int, err error),
	lift func(actor string, f LiftFilter, addrs []string) (int, error)) (LiftResult, error) {
	if f.Empty() {
		return LiftResult{}, ErrEmptyFilter
	}
	if strings.TrimSpace(note) == "" {
		return LiftResult{}, errors.New("store: bulk lift: a note is required")
	}
	if actor == "" {
		actor = ActorAdmin
	}
	cutoff := now.UTC().Round(0)
	if f.Until.IsZero() || f.Until.After(cutoff) {
		f.Until = cutoff
	}
	res := LiftResult{Cutoff: cutoff}
	after := ""
	for {
		limit := LiftChunk
		if dryRun {
			limit = 0 // count them all in one read
		}
		chunk, n, err := find(f, after, limit, &res)
		res.Matched += n
		if err != nil || len(chunk) == 0 || dryRun {
			return res, err
		}
		lifted, err := lift(actor, f, chunk)
		res.Lifted += lifted
		if err != nil {
			return res, err
		}
		after = chunk[len(chunk)-1]
	}
}
