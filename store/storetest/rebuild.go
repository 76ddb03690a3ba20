package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// verdicts maps message ids to the observations a new classifier makes of
// them; ids it lacks keep their stored observations.
type verdicts map[uint64][]store.Observation

func (v verdicts) reobserve(m store.StoredMessage) ([]store.Observation, error) {
	if obs, ok := v[m.ID]; ok {
		return obs, nil
	}
	return m.Observations, nil
}

func keepObservations(m store.StoredMessage) ([]store.Observation, error) { return m.Observations, nil }

func eventTime(t *testing.T, db store.Store, id uint64) time.Time {
	t.Helper()
	msgs, err := db.Messages(context.Background(), id-1, 1)
	if err != nil || len(msgs) != 1 || msgs[0].ID != id {
		t.Fatalf("message %d: %v, %v", id, msgs, err)
	}
	return msgs[0].Received
}

// A classifier fix turns wrong suppressions into right ones, keeps what
// admins did, and keeps every message.
func testRebuildFollowsNewVerdicts(t *testing.T, h Harness) {
	clock := t0
	db, opener := openWith(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	o := func(addr, class string) store.Observation {
		return store.Observation{Recipient: addr, Class: class, Reason: class + "-reason", Decoder: "test"}
	}
	complaint := func(addr, feedback string) store.Observation {
		return store.Observation{Recipient: addr, Class: "complaint", FeedbackType: feedback}
	}
	type step struct {
		at     float64
		before []store.Observation // as recorded
		after  []store.Observation // after the classifier fix
		admin  func()
	}
	steps := []step{
		{at: 0, before: []store.Observation{o("alice@example.com", "hard")}, after: []store.Observation{o("alice@example.com", "soft")}},
		{at: 0.2, before: []store.Observation{o("bob@example.com", "block")}, after: []store.Observation{o("bob@example.com", "hard")}},
		{at: 0.4, before: []store.Observation{o("erin@example.com", "block")}, after: []store.Observation{o("erin@example.com", "hard")}},
		{at: 1, before: []store.Observation{o("alice@example.com", "hard")}, after: []store.Observation{o("alice@example.com", "soft")}},
		{at: 1.2, before: []store.Observation{o("erin@example.com", "block")}, after: []store.Observation{o("erin@example.com", "hard")}},
		{at: 1.5, admin: func() {
			if err := lift(db, "erin@example.com", "vouched"); err != nil {
				t.Fatal(err)
			}
		}},
		{at: 2, before: []store.Observation{o("bob@example.com", "block")}, after: []store.Observation{o("bob@example.com", "hard")}},
		{at: 2.2, before: []store.Observation{o("erin@example.com", "block")}, after: []store.Observation{o("erin@example.com", "hard")}},
		{at: 3, admin: func() {
			if _, err := suppress(db, "carol@example.com", "asked", "ticket 1"); err != nil {
				t.Fatal(err)
			}
		}},
		{at: 4, before: []store.Observation{{Recipient: "undisclosed-recipients:;", Class: "complaint"}}, after: []store.Observation{complaint("frank@example.com", "abuse")}},
		{at: 4.1, before: []store.Observation{complaint("gina@example.com", "abuse")}, after: []store.Observation{complaint("gina@example.com", "auth-failure")}},
		{at: 5, before: []store.Observation{o("carol@example.com", "block")}, after: []store.Observation{o("carol@example.com", "hard"), o("carol@example.com", "hard")}},
	}
	newVerdicts := verdicts{}
	raws := map[uint64][]byte{}
	for _, s := range steps {
		clock = day(s.at)
		if s.admin != nil {
			s.admin()
			continue
		}
		m := bounce("x@example.com", "hard", day(s.at))
		m.Raw = fmt.Appendf(nil, "Subject: report at day %v\r\n\r\n%v\r\n", s.at, s.before)
		m.Observations = s.before
		id := record(t, db, m)
		newVerdicts[id] = s.after
		raws[id] = m.Raw
	}
	checkSuppressed(t, db, map[string]string{"alice": "hard", "carol": "manual", "gina": "complaint"})
	statsBefore, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, oldEvents, _ := db.Recipient(ctx, "alice@example.com")

	var calls [][2]int
	st, err := db.Rebuild(ctx, newVerdicts.reobserve, store.RebuildOptions{
		Progress:      func(done, total int) { calls = append(calls, [2]int{done, total}) },
		ChunkMessages: 4,
	})
	if err != nil {
		t.Fatal(err)
	}

	// What a reopened store holds, not only what the closed transaction left in memory.
	db.Close()
	db = reopen(t, opener, Options{Now: func() time.Time { return clock }})
	checkSuppressed(t, db, map[string]string{"bob": "hard", "carol": "manual", "frank": "complaint"})
	if s, _ := db.Suppression(ctx, "carol@example.com"); s.Detail != "asked" || !s.Since.Equal(day(3)) {
		t.Errorf("carol's manual suppression came back as %+v", s)
	}
	if s, _ := db.Suppression(ctx, "bob@example.com"); s.Detail != "hard-reason" || !s.Since.Equal(day(2)) {
		t.Errorf("bob suppressed %+v, want since day 2 for hard-reason", s)
	}

	// Counters and history follow the new verdicts; admin events stay in place.
	wantHistory := map[string][]string{
		"alice": {"soft", "soft"},
		"bob":   {"hard", "hard"},
		"erin":  {"hard", "hard", "admin/lift", "hard"},
		"carol": {"admin/suppress", "hard", "hard"},
		"frank": {"complaint"},
		"gina":  {"complaint"},
	}
	for name, want := range wantHistory {
		r, events, err := db.Recipient(ctx, name+"@example.com")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		counts := map[string]int{}
		for _, e := range events {
			if e.Class == store.ClassAdmin {
				got = append(got, "admin/"+e.Reason)
				continue
			}
			got = append(got, e.Class)
			counts[e.Class]++
			if e.MessageID == 0 || !e.Time.Equal(eventTime(t, db, e.MessageID)) {
				t.Errorf("%s: event %+v not tied to its message", name, e)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: history %v, want %v", name, got, want)
		}
		if !reflect.DeepEqual(r.Counts, counts) {
			t.Errorf("%s: counts %v, want %v", name, r.Counts, counts)
		}
	}
	if r, _, _ := db.Recipient(ctx, "gina@example.com"); r.Complaints != 0 {
		t.Errorf("gina: an auth-failure report counted as %d complaints", r.Complaints)
	}
	if _, events, _ := db.Recipient(ctx, "erin@example.com"); events[2].Detail != "vouched" || !events[2].Time.Equal(day(1.5)) {
		t.Errorf("erin's lift came back as %+v", events[2])
	}

	// The messages are all still there, raw bytes untouched, with the new observations.
	msgs, err := db.Messages(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(raws) {
		t.Fatalf("%d messages after rebuild, want %d", len(msgs), len(raws))
	}
	for _, m := range msgs {
		if !bytes.Equal(m.Raw, raws[m.ID]) {
			t.Errorf("message %d: raw bytes changed", m.ID)
		}
		if got, _ := db.RawMessage(ctx, m.ID); !bytes.Equal(got, raws[m.ID]) {
			t.Errorf("RawMessage(%d) changed", m.ID)
		}
		if !reflect.DeepEqual(m.Observations, newVerdicts[m.ID]) {
			t.Errorf("message %d: observations %+v, want %+v", m.ID, m.Observations, newVerdicts[m.ID])
		}
	}

	want := store.RebuildStats{
		Messages: 10, Observations: 11, AdminActions: 2, Recipients: 6,
		SuppressedBefore: 3, SuppressedAfter: 3, Added: 2, Removed: 2,
	}
	var changed []string
	for _, c := range st.Changes {
		changed = append(changed, fmt.Sprintf("%s:%v>%v", c.Address, reasonOf(c.Before), reasonOf(c.After)))
	}
	st.Changes = nil
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if want := []string{"alice@example.com:hard>", "bob@example.com:>hard", "frank@example.com:>complaint", "gina@example.com:complaint>"}; !slices.Equal(changed, want) {
		t.Errorf("changes %v, want %v", changed, want)
	}
	if want := [][2]int{{0, 10}, {4, 10}, {8, 10}, {10, 10}}; !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}

	statsAfter, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if statsAfter.Messages != statsBefore.Messages || statsAfter.Recipients != 6 || statsAfter.Events != 13 ||
		!reflect.DeepEqual(statsAfter.SuppressedByReason, map[string]int{"hard": 1, "manual": 1, "complaint": 1}) {
		t.Errorf("Stats after rebuild %+v", statsAfter)
	}
	checkStats(t, db, []string{"alice@example.com", "bob@example.com", "carol@example.com", "erin@example.com", "frank@example.com", "gina@example.com"})

	// Ids and event numbers carry on after the old ones.
	id := record(t, db, bounce("alice@example.com", "soft", day(6)))
	if id != 11 {
		t.Errorf("next message id %d, want 11", id)
	}
	_, events, _ := db.Recipient(ctx, "alice@example.com")
	if events[0].Seq <= oldEvents[len(oldEvents)-1].Seq {
		t.Errorf("new event numbers (%d) reuse old ones (up to %d)", events[0].Seq, oldEvents[len(oldEvents)-1].Seq)
	}
}

// Replaying the stored observations changes nothing (but event numbers),
// admin actions included: the replay is the same policy in the same order.
func testRebuildIdentity(t *testing.T, h Harness) {
	clock := t0
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	classes := []string{"hard", "hard", "soft", "soft", "soft", "block", "complaint", "delivered", "autoreply", "delayed"}
	var msgs []store.Message
	flush := func() {
		recordAll(t, db, msgs)
		msgs = nil
	}
	for i := range 1500 {
		at := t0.Add(time.Duration(i) * 37 * time.Minute)
		if i%40 == 39 {
			flush()
			clock = at.Add(-time.Second)
			addr := fmt.Sprintf("user%d@example.com", rng.IntN(30))
			if rng.IntN(2) == 0 {
				suppress(db, addr, "asked", "note")
			} else if err := lift(db, addr, "note"); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		m := store.Message{Received: at, Raw: fmt.Appendf(nil, "message %d", i)}
		for range 1 + rng.IntN(3) {
			o := store.Observation{Recipient: fmt.Sprintf("User%d@example.com", rng.IntN(30)), Class: classes[rng.IntN(len(classes))], Reason: "r"}
			if o.Class == "complaint" && rng.IntN(3) == 0 {
				o.FeedbackType = "auth-failure"
			}
			if rng.IntN(20) == 0 {
				o.Recipient = "garbage"
			}
			m.Observations = append(m.Observations, o)
		}
		msgs = append(msgs, m)
	}
	flush()
	addrs := addrList("user%d@example.com", 30)
	before := snapshot(t, db, addrs)
	if len(before.suppressions) < 10 {
		t.Fatalf("only %d suppressions: the workload tests little", len(before.suppressions))
	}
	st, err := db.Rebuild(ctx, keepObservations, store.RebuildOptions{ChunkMessages: 100})
	if err != nil {
		t.Fatal(err)
	}
	if st.Added+st.Removed+st.Changed != 0 || len(st.Changes) != 0 || st.AdminActions == 0 {
		t.Errorf("identity rebuild changed suppressions: %+v", st)
	}
	compareSnapshots(t, before, snapshot(t, db, addrs))
	checkStats(t, db, addrs)
}

// A store of thousands of messages is rebuilt in many transactions to the
// very state that recording the new verdicts in the first place gives.
func testRebuildMatchesRecording(t *testing.T, h Harness) {
	const n = 3000
	db := open(t, h, Options{})
	ref := open(t, h, Options{})
	rng := rand.New(rand.NewPCG(5, 6))
	classes := []string{"hard", "soft", "soft", "block", "complaint", "delivered", "autoreply"}
	var before, after []store.Message
	newVerdicts := verdicts{}
	for i := range n {
		at := t0.Add(time.Duration(i) * 13 * time.Minute)
		pick := func() []store.Observation {
			var obs []store.Observation
			for range rng.IntN(3) {
				obs = append(obs, store.Observation{Recipient: fmt.Sprintf("u%d@example.%d.com", rng.IntN(400), rng.IntN(3)), Class: classes[rng.IntN(len(classes))]})
			}
			return obs
		}
		raw := bytes.Repeat(fmt.Appendf(nil, "line of message %d\r\n", i), 1+rng.IntN(50))
		before = append(before, store.Message{Received: at, Raw: raw, Observations: pick()})
		m := store.Message{Received: at, Raw: raw, Observations: pick()}
		after = append(after, m)
		newVerdicts[uint64(i+1)] = m.Observations
	}
	recordAll(t, db, before)
	recordAll(t, ref, after)

	chunks := 0
	st, err := db.Rebuild(context.Background(), newVerdicts.reobserve, store.RebuildOptions{
		ChunkMessages: 128,
		Progress: func(done, total int) {
			if total != n || done < 0 || done > n {
				t.Errorf("progress(%d, %d)", done, total)
			}
			chunks++
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + (n+127)/128; chunks != want {
		t.Errorf("%d progress calls, want %d", chunks, want)
	}
	if st.Messages != n {
		t.Errorf("rebuilt %d messages, want %d", st.Messages, n)
	}
	var addrs []string
	for i := range 400 {
		for d := range 3 {
			addrs = append(addrs, fmt.Sprintf("u%d@example.%d.com", i, d))
		}
	}
	compareSnapshots(t, snapshot(t, ref, addrs), snapshot(t, db, addrs))
	checkStats(t, db, addrs)
	refStats, _ := ref.Stats(context.Background())
	dbStats, _ := db.Stats(context.Background())
	if !reflect.DeepEqual(refStats, dbStats) {
		t.Errorf("Stats %+v, want %+v", dbStats, refStats)
	}
}

// A chunk holds at least one message, however large, and stops growing
// past ChunkBytes.
func testRebuildChunkBytes(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	var msgs []store.Message
	for i := range 10 {
		raw := make([]byte, 1000) // zeros deflate to almost nothing: use noise
		rand.NewChaCha8([32]byte{byte(i)}).Read(raw)
		msgs = append(msgs, store.Message{Received: day(float64(i)), Raw: raw})
	}
	recordAll(t, db, msgs)
	var calls []int
	_, err := db.Rebuild(context.Background(), keepObservations, store.RebuildOptions{
		ChunkBytes: 2500,
		Progress:   func(done, _ int) { calls = append(calls, done) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 3, 6, 9, 10}; !slices.Equal(calls, want) {
		t.Errorf("progress %v, want %v (3 messages of 1 KB per 2.5 KB chunk)", calls, want)
	}
}

// A failed or cancelled Rebuild leaves the store exactly as it was.
func testRebuildFailureChangesNothing(t *testing.T, h Harness) {
	boom := errors.New("classifier exploded")
	tests := []struct {
		name      string
		reobserve func(context.CancelFunc) func(store.StoredMessage) ([]store.Observation, error)
		want      error
	}{
		{"reobserve error", func(context.CancelFunc) func(store.StoredMessage) ([]store.Observation, error) {
			return func(m store.StoredMessage) ([]store.Observation, error) {
				if m.ID == 150 {
					return nil, boom
				}
				return []store.Observation{{Recipient: "victim@example.com", Class: "hard"}}, nil
			}
		}, boom},
		{"cancelled", func(cancel context.CancelFunc) func(store.StoredMessage) ([]store.Observation, error) {
			return func(m store.StoredMessage) ([]store.Observation, error) {
				if m.ID == 150 {
					cancel()
				}
				return []store.Observation{{Recipient: "victim@example.com", Class: "hard"}}, nil
			}
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, o := openWith(t, h, Options{})
			var msgs []store.Message
			for i := range 200 {
				msgs = append(msgs, bounce(fmt.Sprintf("u%d@example.com", i%7), "soft", day(float64(i)/10)))
			}
			recordAll(t, db, msgs)
			addrs := append(addrList("u%d@example.com", 7), "victim@example.com")
			before := snapshot(t, db, addrs)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := db.Rebuild(ctx, tt.reobserve(cancel), store.RebuildOptions{ChunkMessages: 50})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Rebuild: %v, want %v", err, tt.want)
			}
			compareSnapshots(t, before, snapshot(t, db, addrs))
			if _, err := db.Suppression(context.Background(), "victim@example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("half a rebuild leaked: victim %v", err)
			}
			checkStats(t, db, addrs)
			// The store works on, and reopens with what it had.
			record(t, db, bounce("after@example.com", "hard", day(30)))
			db.Close()
			db = reopen(t, o, Options{})
			if _, _, err := db.Recipient(context.Background(), "after@example.com"); err != nil {
				t.Errorf("after reopening: %v", err)
			}
			checkStats(t, db, append(addrs, "after@example.com"))
		})
	}
}

// Writes in the same process during a Rebuild would be lost by its swap:
// they fail, retryably, instead.
func testRebuildRefusesWriters(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	ctx := context.Background()
	record(t, db, bounce("a@example.com", "hard", t0))
	var errs []error
	_, err := db.Rebuild(ctx, func(m store.StoredMessage) ([]store.Observation, error) {
		_, err := db.Record(ctx, bounce("b@example.com", "hard", t0))
		errs = append(errs, err)
		_, err = suppress(db, "c@example.com", "", "")
		errs = append(errs, err)
		errs = append(errs, lift(db, "a@example.com", ""))
		// Reads go on, against the state before the rebuild.
		if _, _, err := db.Recipient(ctx, "a@example.com"); err != nil {
			t.Errorf("read during rebuild: %v", err)
		}
		return m.Observations, nil
	}, store.RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if !errors.Is(err, store.ErrRebuilding) {
			t.Errorf("write %d during rebuild: %v, want ErrRebuilding", i, err)
		}
	}
	if _, err := suppress(db, "c@example.com", "", ""); err != nil {
		t.Errorf("Suppress after rebuild: %v", err)
	}
}

func testRebuildEmptyStore(t *testing.T, h Harness) {
	db := open(t, h, Options{})
	st, err := db.Rebuild(context.Background(), keepObservations, store.RebuildOptions{})
	if err != nil || st.Messages != 0 || st.Recipients != 0 {
		t.Errorf("Rebuild of an empty store: %+v, %v", st, err)
	}
	if _, err := db.Rebuild(context.Background(), nil, store.RebuildOptions{}); err == nil {
		t.Error("Rebuild without a function succeeded")
	}
}

// An import's suppressions keep their reason and detail through a Rebuild,
// and the Rebuild's own changes are audited as "reclassify".
func testRebuildKeepsImportsAndAudits(t *testing.T, h Harness) {
	clock := day(20)
	db := open(t, h, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	res, err := db.SuppressMany(ctx, "import", []store.ManualSuppression{
		{Address: "old@example.com", Reason: "import", Detail: "ses:bounce", Since: day(1)},
		{Address: "not an address"},
		{Address: "old@example.com", Reason: "import", Detail: "dup"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Added || res[1].Err == nil || res[2].Added || res[2].Suppression.Detail != "ses:bounce" {
		t.Fatalf("SuppressMany = %+v", res)
	}
	record(t, db, bounce("wrong@example.com", "hard", day(2)))
	record(t, db, bounce("wrong@example.com", "hard", day(3)))

	// The new classifier says the bounces of wrong@ were blocks.
	if _, err := db.Rebuild(ctx, func(m store.StoredMessage) ([]store.Observation, error) {
		obs := slices.Clone(m.Observations)
		for i := range obs {
			obs[i].Class = "block"
		}
		return obs, nil
	}, store.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := db.Suppression(ctx, "old@example.com")
	if err != nil || s.Reason != "import" || s.Detail != "ses:bounce" || !s.Since.Equal(day(1)) {
		t.Errorf("imported suppression after Rebuild: %+v, %v", s, err)
	}
	list, _, err := db.ListSuppressions(ctx, store.SuppressionFilter{}, "", 0)
	if err != nil || len(list) != 1 || list[0].Address != "old@example.com" {
		t.Errorf("time index after Rebuild: %+v, %v", list, err)
	}
	entries, _, _ := db.Audit(ctx, store.AuditFilter{Actor: store.ActorReclassify}, 0, 0)
	if len(entries) != 1 || entries[0].Address != "wrong@example.com" || entries[0].Action != store.AuditLift || entries[0].Before == nil {
		t.Errorf("reclassify audit entries %+v", entries)
	}
	act, err := db.Activity(ctx, store.ActivityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := act.Windows[2]; d.ByClass["block"] != 2 || d.ByClass["hard"] != 0 {
		t.Errorf("30d counts after Rebuild: %v, want the new verdicts", d.ByClass)
	}
}
