// Package storetest is the conformance suite of the store contract: one
// set of tests, written against package store's interfaces only, that
// every engine runs from its own tests (as database/sql drivers or
// gocloud.dev's drivertest are held to one test). It covers every method
// of store.Store, the policy, the audit trail and its feed, the cursors of
// the listings, imports (SuppressMany) and exports (Suppressions), Rebuild,
// the counters (Stats, Activity), the retention (Prune), and concurrent
// writers.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Options are what the suite asks of an engine when it opens a store.
type Options struct {
	Policy store.Policy     // zero for store.DefaultPolicy
	Now    func() time.Time // the clock of admin actions and Activity; nil for time.Now
}

// Opener opens one store, always the same one: opening it again after
// Close finds what was written before.
type Opener func(opts Options) (store.Store, error)

// Harness is how the suite gets stores from an engine.
type Harness struct {
	// New returns the opener of a new, empty store that lives until the
	// test ends.
	New func(t testing.TB) Opener
	// Shared reports whether opens made by the same opener see one
	// another's writes as they happen (a database server shared by several
	// processes) rather than only after Close (an embedded file one
	// process holds). The suite then also runs the tests of several
	// instances on one store.
	Shared bool
	// Dedupe reports whether the engine implements the deduplication and
	// the quota of store.Writer.Record (Message.Digest, Message.RawQuota)
	// and counts Stats.RawBytes and Stats.Duplicates. Without it their
	// tests skip, saying so, and Stats is compared without those two.
	Dedupe bool
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Policy", testPolicy},
		{"SuppressionSticks", testSuppressionSticks},
		{"PolicyCustom", testPolicyCustom},
		{"ComplaintFeedbackTypes", testComplaintFeedbackTypes},
		{"NonComplaintsNeverTipTheThreshold", testNonComplaintsNeverTipTheThreshold},
		{"RecordSkipsInvalidRecipients", testRecordSkipsInvalidRecipients},
		{"RecordRefuses", testRecordRefuses},
		{"RecordConcurrent", testRecordConcurrent},
		{"RecordOddText", testRecordOddText},
		{"Reopen", testReopen},
		{"Close", testClose},
		{"Check", testCheck},
		{"RecipientHistoryLimit", testRecipientHistoryLimit},
		{"LastDiagnostic", testLastDiagnostic},
		{"RawMessage", testRawMessage},
		{"SuppressionsPages", testSuppressionsPages},
		{"MessagesPages", testMessagesPages},
		{"SuppressAndLift", testSuppressAndLift},
		{"LiftResetsCounters", testLiftResetsCounters},
		{"SuppressManyImport", testSuppressManyImport},
		{"ListSuppressionsPagesWhileChanging", testListSuppressionsPagesWhileChanging},
		{"ListSuppressionsFilters", testListSuppressionsFilters},
		{"QuerySuppressions", testQuerySuppressions},
		{"HistoryPages", testHistoryPages},
		{"AuditTrail", testAuditTrail},
		{"AuditPagesByAddress", testAuditPagesByAddress},
		{"AuditChangedConcurrent", testAuditChangedConcurrent},
		{"Stats", testStats},
		{"Activity", testActivity},
		{"RebuildFollowsNewVerdicts", testRebuildFollowsNewVerdicts},
		{"RebuildKeepsImportsAndAudits", testRebuildKeepsImportsAndAudits},
		{"RebuildIdentity", testRebuildIdentity},
		{"RebuildMatchesRecording", testRebuildMatchesRecording},
		{"RebuildChunkBytes", testRebuildChunkBytes},
		{"RebuildFailureChangesNothing", testRebuildFailureChangesNothing},
		{"RebuildRefusesWriters", testRebuildRefusesWriters},
		{"RebuildEmptyStore", testRebuildEmptyStore},
		{"PruneRawMessages", testPruneRawMessages},
		{"PruneKeepsVerdictsForRebuild", testPruneKeepsVerdictsForRebuild},
		{"PruneEvents", testPruneEvents},
		{"PruneCounters", testPruneCounters},
		{"PruneWhileRecording", testPruneWhileRecording},
		{"PruneRefuses", testPruneRefuses},
		{"Copy", testCopy},
		{"LiftMatching", testLiftMatching},
		{"LiftMatchingCutoff", testLiftMatchingCutoff},
		{"ReturnedIDsKept", testReturnedIDsKept},
		{"AdvisoryNeverSuppresses", testAdvisoryNeverSuppresses},
		{"RecordDeduplicates", testRecordDeduplicates},
		{"ConcurrentDuplicates", testConcurrentDuplicates},
		{"RawQuota", testRawQuota},
		{"RawBytes", testRawBytes},
	}
	if h.Shared {
		tests = append(tests, []struct {
			name string
			fn   func(*testing.T, Harness)
		}{
			{"InstancesShareOneAddress", testInstancesShareOneAddress},
			{"InstancesShareTheAuditTrail", testInstancesShareTheAuditTrail},
			{"EndpointLeases", testEndpointLeases},
			{"InstancesDeduplicate", testInstancesDeduplicate},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

// t0 is an arbitrary receipt time; tests count days from it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func day(n float64) time.Time { return t0.Add(time.Duration(n * 24 * float64(time.Hour))) }

// open opens a new store, closed when the test ends.
func open(t testing.TB, h Harness, opts Options) store.Store {
	t.Helper()
	db, _ := openWith(t, h, opts)
	return db
}

// openWith is open that also returns the opener, to open the store again.
func openWith(t testing.TB, h Harness, opts Options) (store.Store, Opener) {
	t.Helper()
	o := h.New(t)
	db, err := o(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, o
}

// reopen opens the store of o again, closed when the test ends.
func reopen(t testing.TB, o Opener, opts Options) store.Store {
	t.Helper()
	db, err := o(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// bounce is a message with one observation of class for addr.
func bounce(addr, class string, at time.Time) store.Message {
	return store.Message{
		Received:     at,
		EnvelopeFrom: "",
		EnvelopeTo:   []string{"bounces@bounce.example.com"},
		Raw:          []byte("Subject: Undelivered Mail Returned to Sender\r\n\r\n" + addr + " " + class + "\r\n"),
		Observations: []store.Observation{{Recipient: addr, Class: class, Reason: class + "-reason", Status: "5.1.1",
			Diagnostic: "smtp; 550 5.1.1 <" + addr + ">: " + class + " at " + at.UTC().Format(time.RFC3339)}},
	}
}

func record(t testing.TB, db store.Store, m store.Message) uint64 {
	t.Helper()
	id, err := db.Record(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func recordAll(t testing.TB, db store.Store, msgs []store.Message) {
	t.Helper()
	for _, m := range msgs {
		record(t, db, m)
	}
}

// suppress is an admin's Suppress: reason "manual", detail, note.
func suppress(db store.Store, addr, detail, note string) (store.Suppression, error) {
	s, _, err := db.SuppressAs(context.Background(), store.ActorAdmin, store.ManualSuppression{Address: addr, Detail: detail, Note: note})
	return s, err
}

// lift is an admin's Lift.
func lift(db store.Store, addr, note string) error {
	_, err := db.LiftAs(context.Background(), store.ActorAdmin, addr, note)
	return err
}

func notFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// allSuppressions pages through Suppressions.
func allSuppressions(t testing.TB, db store.Store) []store.Suppression {
	t.Helper()
	var all []store.Suppression
	after := ""
	for {
		page, err := db.Suppressions(context.Background(), after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Address
	}
}

// allMessages pages through Messages.
func allMessages(t testing.TB, db store.Store) []store.StoredMessage {
	t.Helper()
	var all []store.StoredMessage
	after := uint64(0)
	for {
		page, err := db.Messages(context.Background(), after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

// state is everything a user can see of a store through the contract,
// event numbers aside, for the addresses a test used.
type state struct {
	recipients   map[string]store.Recipient
	events       map[string][]store.Event // Seq zeroed
	suppressions []store.Suppression
	messages     []store.StoredMessage
}

func snapshot(t testing.TB, db store.Store, addrs []string) state {
	t.Helper()
	s := state{recipients: map[string]store.Recipient{}, events: map[string][]store.Event{}}
	for _, a := range addrs {
		r, events, err := db.Recipient(context.Background(), a)
		if notFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range events {
			events[i].Seq = 0
		}
		s.recipients[r.Address], s.events[r.Address] = r, events
	}
	s.suppressions = allSuppressions(t, db)
	s.messages = allMessages(t, db)
	return s
}

func compareSnapshots(t *testing.T, want, got state) {
	t.Helper()
	if !reflect.DeepEqual(got.suppressions, want.suppressions) {
		t.Errorf("suppressions differ:\n got %v\nwant %v", got.suppressions, want.suppressions)
	}
	if len(got.recipients) != len(want.recipients) {
		t.Errorf("%d recipients, want %d", len(got.recipients), len(want.recipients))
	}
	for addr, w := range want.recipients {
		if g := got.recipients[addr]; !equalRecipients(g, w) {
			t.Errorf("recipient %s:\n got %+v\nwant %+v", addr, g, w)
		}
	}
	for addr, w := range want.events {
		if g := got.events[addr]; !reflect.DeepEqual(g, w) {
			t.Errorf("history of %s:\n got %+v\nwant %+v", addr, g, w)
		}
	}
	if len(got.messages) != len(want.messages) {
		t.Fatalf("%d messages, want %d", len(got.messages), len(want.messages))
	}
	for i := range want.messages {
		if !reflect.DeepEqual(got.messages[i], want.messages[i]) {
			t.Errorf("message %d differs:\n got %+v\nwant %+v", want.messages[i].ID, got.messages[i], want.messages[i])
		}
	}
}

// equalRecipients compares two records; nil and empty lists are the same.
func equalRecipients(a, b store.Recipient) bool {
	norm := func(r store.Recipient) store.Recipient {
		if len(r.HardTimes) == 0 {
			r.HardTimes = nil
		}
		if len(r.SoftTimes) == 0 {
			r.SoftTimes = nil
		}
		return r
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// checkStats compares Stats with what the contract's reads show, for a
// store whose recipients are all among addrs.
func checkStats(t *testing.T, db store.Store, addrs []string) {
	t.Helper()
	ctx := context.Background()
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Stats{SuppressedByReason: map[string]int{}}
	want.Messages = len(allMessages(t, db))
	seen := map[string]bool{}
	for _, a := range addrs {
		r, events, err := db.Recipient(ctx, a)
		if notFound(err) || seen[r.Address] {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Address] = true
		want.Recipients++
		want.Events += len(events)
	}
	for _, s := range allSuppressions(t, db) {
		want.Suppressed++
		want.SuppressedByReason[s.Reason]++
	}
	st.RawBytes, st.Duplicates = 0, 0 // testRawBytes checks them
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, the data says %+v", st, want)
	}
}

func reasonOf(s *store.Suppression) string {
	if s == nil {
		return ""
	}
	return s.Reason
}

// checkSuppressed checks the whole suppression list: local part@example.com -> reason.
func checkSuppressed(t *testing.T, db store.Store, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, s := range allSuppressions(t, db) {
		got[s.Address[:len(s.Address)-len("@example.com")]] = s.Reason
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("suppressed %v, want %v", got, want)
	}
}

func addrList(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

var _ = slices.Equal[[]string]
