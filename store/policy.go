package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The classes the policy acts on; the others (block, autoreply, delayed,
// unknown, and any class it does not know) never lead to a suppression.
const (
	classHard      = "hard"
	classSoft      = "soft"
	classComplaint = "complaint"
	classDelivered = "delivered"
	// ClassUnknown is counted for an observation without a class.
	ClassUnknown = "unknown"
	// ClassAdmin marks Suppress and Lift in a recipient's history.
	ClassAdmin = "admin"
)

// maxWindowTimes bounds the thresholds, and so HardTimes and SoftTimes,
// which keep no more than the threshold's worth (see keepForBurst).
const maxWindowTimes = 1000

// Validate reports whether every threshold and window is usable. Open
// applies it to Options.Policy; a zero field is an error, not a default, so
// that a half-filled configuration is caught at start-up.
func (p Policy) Validate() error {
	var errs []error
	positive := func(name string, n int) {
		if n < 1 || n > maxWindowTimes {
			errs = append(errs, fmt.Errorf("%s is %d, want 1 to %d", name, n, maxWindowTimes))
		}
	}
	positive("HardThreshold", p.HardThreshold)
	positive("ComplaintThreshold", p.ComplaintThreshold)
	positive("SoftThreshold", p.SoftThreshold)
	if p.HardWindow <= 0 {
		errs = append(errs, fmt.Errorf("HardWindow is %s, want more than 0", p.HardWindow))
	}
	if p.SoftWindow <= 0 {
		errs = append(errs, fmt.Errorf("SoftWindow is %s, want more than 0", p.SoftWindow))
	}
	if p.DuplicateWindow < 0 {
		errs = append(errs, fmt.Errorf("DuplicateWindow is %s, want 0 (off) or more", p.DuplicateWindow))
	}
	if p.SoftMinSpan < 0 || p.SoftMinSpan > p.SoftWindow {
		errs = append(errs, fmt.Errorf("SoftMinSpan is %s, want 0 to SoftWindow (%s)", p.SoftMinSpan, p.SoftWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: policy: %w", err)
	}
	return nil
}

// Observe updates r for observation o of its address, received at at: the
// counts, the first and latest bounce, and the policy's state. It returns
// the suppression the policy calls for, or nil for none; the engine stores
// r and adds the suppression unless the address is already suppressed (the
// first reason stands until a Lift). r may be a zero Recipient with only
// its Address set, for an address seen for the first time.
//
// An engine calls it for every observation of a message in the
// transaction that records the message, with r as that transaction read
// it: the policy is only correct when no other writer changes r between
// the read and the write.
func (p Policy) Observe(r *Recipient, o Observation, at time.Time) *Suppression {
	if r.Counts == nil {
		r.Counts = make(map[string]int)
	}
	noteLatest(r, o, at)
	reason := p.apply(r, o, at)
	if reason == "" {
		return nil
	}
	return &Suppression{Address: r.Address, Reason: reason, Detail: detailOf(o), Since: at,
		Decoder: Clip(o.Decoder, MaxReasonLen), Rule: Clip(o.Rule, MaxReasonLen)}
}

// noteLatest counts o and updates the first, last and Last* fields.
func noteLatest(r *Recipient, o Observation, at time.Time) {
	class := cmp.Or(o.Class, ClassUnknown)
	r.Counts[class]++
	if r.FirstBounce.IsZero() || at.Before(r.FirstBounce) {
		r.FirstBounce = at
	}
	if !at.Before(r.LastBounce) {
		r.LastBounce = at
		r.LastClass = class
		r.LastReason = o.Reason
		r.LastStatus = o.Status
		r.LastDiagnostic = o.Diagnostic
	}
}

// detailOf says in one token which verdict tipped an address over.
func detailOf(o Observation) string {
	switch {
	case o.Reason != "":
		return o.Reason
	case o.Status != "":
		return o.Status
	}
	return o.Class
}

// ResetPolicy forgets what the policy counted up to at (hard and soft
// streaks, complaints), as a Lift does; the lifetime Counts stay.
func (r *Recipient) ResetPolicy(at time.Time) {
	r.Complaints = 0
	r.clearStreaks(at)
}

// apply updates r's policy state for observation o received at at, and returns the suppression reason it calls for ("hard", "soft" or
// "complaint"), or "" for none. It is pure: the caller stores r and the
// suppression. r.LastBounce must already include at.
//
// Observations may arrive out of order (concurrent sessions, a queued
// report), so the rules look for a burst anywhere in the kept times rather
// than only behind the newest one. The windows reach back from the latest
// observation of any class, so a report older than that is dropped at once.
func (p Policy) apply(r *Recipient, o Observation, at time.Time) string {
	class := o.Class
	if o.Advisory || class == classComplaint && !complained(o.FeedbackType) {
		class = "" // recorded and counted by the caller, but nothing for the policy
	}
	counts := at.After(r.StreaksClearedAt)
	switch class {
	case classHard:
		if counts {
			r.HardTimes = insertTime(r.HardTimes, at)
		}
	case classSoft:
		if counts {
			r.SoftTimes = insertTime(r.SoftTimes, at)
		}
	case classComplaint:
		r.Complaints++
	case classDelivered:
		// The address demonstrably works: what bounced before no longer counts.
		r.clearStreaks(at)
	}
	r.HardTimes = keepForBurst(prune(r.HardTimes, r.LastBounce.Add(-p.HardWindow)), p.HardThreshold, 0)
	r.SoftTimes = keepForBurst(prune(r.SoftTimes, r.LastBounce.Add(-p.SoftWindow)), p.SoftThreshold, p.SoftMinSpan)

	// Only the rule of the class just observed may fire: a block never
	// suppresses, even if a lowered threshold would now catch old bounces.
	switch {
	case class == classHard && burst(r.HardTimes, p.HardThreshold, p.HardWindow, 0):
		return classHard
	case class == classSoft && burst(r.SoftTimes, p.SoftThreshold, p.SoftWindow, p.SoftMinSpan):
		return classSoft
	case class == classComplaint && r.Complaints >= p.ComplaintThreshold:
		return classComplaint
	}
	return ""
}

// complained reports whether an ARF report of this Feedback-Type is the
// recipient complaining. Feedback types are case-insensitive tokens (RFC
// 5965 s3.1); a report without one is taken at its word.
func complained(feedbackType string) bool {
	switch strings.ToLower(strings.TrimSpace(feedbackType)) {
	case "auth-failure", "not-spam":
		return false
	}
	return true
}

// clearStreaks forgets the hard and soft bounces received at or before at.
func (r *Recipient) clearStreaks(at time.Time) {
	if at.After(r.StreaksClearedAt) {
		r.StreaksClearedAt = at
	}
	r.HardTimes = prune(r.HardTimes, r.StreaksClearedAt.Add(1))
	r.SoftTimes = prune(r.SoftTimes, r.StreaksClearedAt.Add(1))
}

// burst reports whether at least k of the sorted times fall within one
// window whose first and last are at least minSpan apart.
func burst(times []time.Time, k int, window, minSpan time.Duration) bool {
	end := 0
	for start := range times {
		// The best candidate starting at times[start] is everything up to
		// window later: most observations and the widest span.
		for end < len(times) && times[end].Sub(times[start]) <= window {
			end++
		}
		if end-start >= k && times[end-1].Sub(times[start]) >= minSpan {
			return true
		}
	}
	return false
}

// keepForBurst bounds the sorted times, all within one window, to what
// burst needs to find k of them at least minSpan apart: any k of them are
// within the window, so the latest k say whether there are k, and the
// oldest, kept besides where minSpan matters, gives the widest span. So a
// recipient's record, which Record reads and writes for every bounce,
// stays the same size however often the address bounces.
//
// For bounces received in order, an address is suppressed exactly when
// keeping every time would suppress it (TestBoundedTimesDecideAsAll): the
// two can disagree only after a burst was found, when the address is
// already suppressed, and the first suppression stands until a Lift, which
// forgets the times. With a raised threshold, only the times kept count
// until new ones arrive; a Rebuild counts them all again.
func keepForBurst(times []time.Time, k int, minSpan time.Duration) []time.Time {
	switch {
	case minSpan == 0 && len(times) > k:
		return times[len(times)-k:]
	case minSpan > 0 && len(times) > k+1:
		return append(times[:1], times[len(times)-k:]...)
	}
	return times
}

// insertTime adds t to the sorted times, dropping the oldest beyond maxWindowTimes.
func insertTime(times []time.Time, t time.Time) []time.Time {
	i, _ := slices.BinarySearchFunc(times, t, time.Time.Compare)
	times = slices.Insert(times, i, t)
	if len(times) > maxWindowTimes {
		times = slices.Delete(times, 0, len(times)-maxWindowTimes)
	}
	return times
}

// prune drops the sorted times before cutoff, returning nil when none remain
// so that the stored record omits the field.
func prune(times []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(times) && times[i].Before(cutoff) {
		i++
	}
	if i == len(times) {
		return nil
	}
	return times[i:]
}
