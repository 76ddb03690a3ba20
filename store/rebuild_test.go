package store

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

	bolt "go.etcd.io/bbolt"
)

// verdicts maps message ids to the observations a new classifier makes of
// them; ids it lacks keep their stored observations.
type verdicts map[uint64][]Observation

func (v verdicts) reobserve(m StoredMessage) ([]Observation, error) {
	if obs, ok := v[m.ID]; ok {
		return obs, nil
	}
	return m.Observations, nil
}

func keepObservations(m StoredMessage) ([]Observation, error) { return m.Observations, nil }

// A classifier fix turns wrong suppressions into right ones, keeps what
// admins did, and keeps every message.
func TestRebuildFollowsNewVerdicts(t *testing.T) {
	clock := t0
	db, path := openTest(t, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	o := func(addr, class string) Observation {
		return Observation{Recipient: addr, Class: class, Reason: class + "-reason", Decoder: "test"}
	}
	complaint := func(addr, feedback string) Observation {
		return Observation{Recipient: addr, Class: "complaint", FeedbackType: feedback}
	}
	type step struct {
		at     float64
		before []Observation // as recorded
		after  []Observation // after the classifier fix
		admin  func()
	}
	steps := []step{
		{at: 0, before: []Observation{o("alice@example.com", "hard")}, after: []Observation{o("alice@example.com", "soft")}},
		{at: 0.2, before: []Observation{o("bob@example.com", "block")}, after: []Observation{o("bob@example.com", "hard")}},
		{at: 0.4, before: []Observation{o("erin@example.com", "block")}, after: []Observation{o("erin@example.com", "hard")}},
		{at: 1, before: []Observation{o("alice@example.com", "hard")}, after: []Observation{o("alice@example.com", "soft")}},
		{at: 1.2, before: []Observation{o("erin@example.com", "block")}, after: []Observation{o("erin@example.com", "hard")}},
		{at: 1.5, admin: func() {
			if err := db.Lift(ctx, "erin@example.com", "vouched"); err != nil {
				t.Fatal(err)
			}
		}},
		{at: 2, before: []Observation{o("bob@example.com", "block")}, after: []Observation{o("bob@example.com", "hard")}},
		{at: 2.2, before: []Observation{o("erin@example.com", "block")}, after: []Observation{o("erin@example.com", "hard")}},
		{at: 3, admin: func() {
			if _, err := db.Suppress(ctx, "carol@example.com", "asked", "ticket 1"); err != nil {
				t.Fatal(err)
			}
		}},
		{at: 4, before: []Observation{{Recipient: "undisclosed-recipients:;", Class: "complaint"}}, after: []Observation{complaint("frank@example.com", "abuse")}},
		{at: 4.1, before: []Observation{complaint("gina@example.com", "abuse")}, after: []Observation{complaint("gina@example.com", "auth-failure")}},
		{at: 5, before: []Observation{o("carol@example.com", "block")}, after: []Observation{o("carol@example.com", "hard"), o("carol@example.com", "hard")}},
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
	st, err := db.Rebuild(ctx, newVerdicts.reobserve, RebuildOptions{
		Progress:      func(done, total int) { calls = append(calls, [2]int{done, total}) },
		ChunkMessages: 4,
	})
	if err != nil {
		t.Fatal(err)
	}

	// What a reopened file holds, not only what the closed transaction left in memory.
	checkFile(t, db)
	db.Close()
	if db, err = Open(path, Options{Now: func() time.Time { return clock }}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
			if e.Class == classAdmin {
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

	want := RebuildStats{
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
	checkCounters(t, db)

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

func reasonOf(s *Suppression) string {
	if s == nil {
		return ""
	}
	return s.Reason
}

func eventTime(t *testing.T, db *DB, id uint64) time.Time {
	t.Helper()
	msgs, err := db.Messages(context.Background(), id-1, 1)
	if err != nil || len(msgs) != 1 || msgs[0].ID != id {
		t.Fatalf("message %d: %v, %v", id, msgs, err)
	}
	return msgs[0].Received
}

// checkSuppressed checks the whole suppression list: local part@example.com -> reason.
func checkSuppressed(t *testing.T, db *DB, want map[string]string) {
	t.Helper()
	list, err := db.Suppressions(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range list {
		got[s.Address[:len(s.Address)-len("@example.com")]] = s.Reason
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("suppressed %v, want %v", got, want)
	}
}

// Replaying the stored observations changes nothing (but event numbers),
// admin actions included: the replay is the same policy in the same order.
func TestRebuildIdentity(t *testing.T) {
	clock := t0
	db, _ := openTest(t, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	classes := []string{"hard", "hard", "soft", "soft", "soft", "block", "complaint", "delivered", "autoreply", "delayed"}
	var msgs []Message
	flush := func() {
		recordMany(t, db, msgs)
		msgs = nil
	}
	for i := range 1500 {
		at := t0.Add(time.Duration(i) * 37 * time.Minute)
		if i%40 == 39 {
			flush()
			clock = at.Add(-time.Second)
			addr := fmt.Sprintf("user%d@example.com", rng.IntN(30))
			if rng.IntN(2) == 0 {
				db.Suppress(ctx, addr, "asked", "note")
			} else if err := db.Lift(ctx, addr, "note"); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		m := Message{Received: at, Raw: fmt.Appendf(nil, "message %d", i)}
		for range 1 + rng.IntN(3) {
			o := Observation{Recipient: fmt.Sprintf("User%d@example.com", rng.IntN(30)), Class: classes[rng.IntN(len(classes))], Reason: "r"}
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
	before := snapshot(t, db)
	if len(before.suppressions) < 10 {
		t.Fatalf("only %d suppressions: the workload tests little", len(before.suppressions))
	}
	st, err := db.Rebuild(ctx, keepObservations, RebuildOptions{ChunkMessages: 100})
	if err != nil {
		t.Fatal(err)
	}
	if st.Added+st.Removed+st.Changed != 0 || len(st.Changes) != 0 || st.AdminActions == 0 {
		t.Errorf("identity rebuild changed suppressions: %+v", st)
	}
	compareSnapshots(t, before, snapshot(t, db))
	checkCounters(t, db)
	checkFile(t, db)
}

// A store of thousands of messages is rebuilt in many transactions to the
// very state that recording the new verdicts in the first place gives.
func TestRebuildChunked(t *testing.T) {
	const n = 3000
	db, _ := openTest(t, Options{})
	ref, _ := openTest(t, Options{})
	db.bolt.NoSync, ref.bolt.NoSync = true, true // speed; durability is not under test
	rng := rand.New(rand.NewPCG(5, 6))
	classes := []string{"hard", "soft", "soft", "block", "complaint", "delivered", "autoreply"}
	var before, after []Message
	newVerdicts := verdicts{}
	for i := range n {
		at := t0.Add(time.Duration(i) * 13 * time.Minute)
		pick := func() []Observation {
			var obs []Observation
			for range rng.IntN(3) {
				obs = append(obs, Observation{Recipient: fmt.Sprintf("u%d@example.%d.com", rng.IntN(400), rng.IntN(3)), Class: classes[rng.IntN(len(classes))]})
			}
			return obs
		}
		raw := bytes.Repeat(fmt.Appendf(nil, "line of message %d\r\n", i), 1+rng.IntN(50))
		before = append(before, Message{Received: at, Raw: raw, Observations: pick()})
		m := Message{Received: at, Raw: raw, Observations: pick()}
		after = append(after, m)
		newVerdicts[uint64(i+1)] = m.Observations
	}
	recordMany(t, db, before)
	recordMany(t, ref, after)

	chunks := 0
	st, err := db.Rebuild(context.Background(), newVerdicts.reobserve, RebuildOptions{
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
	compareSnapshots(t, snapshot(t, ref), snapshot(t, db))
	checkCounters(t, db)
	checkFile(t, db)
	refStats, _ := ref.Stats(context.Background())
	dbStats, _ := db.Stats(context.Background())
	if !reflect.DeepEqual(refStats, dbStats) {
		t.Errorf("Stats %+v, want %+v", dbStats, refStats)
	}
}

// A chunk holds at least one message, however large, and stops growing
// past ChunkBytes.
func TestRebuildChunkBytes(t *testing.T) {
	db, _ := openTest(t, Options{})
	db.bolt.NoSync = true
	var msgs []Message
	for i := range 10 {
		raw := make([]byte, 1000) // zeros deflate to almost nothing: use noise
		rand.NewChaCha8([32]byte{byte(i)}).Read(raw)
		msgs = append(msgs, Message{Received: day(float64(i)), Raw: raw})
	}
	recordMany(t, db, msgs)
	var calls []int
	_, err := db.Rebuild(context.Background(), keepObservations, RebuildOptions{
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
func TestRebuildFailureChangesNothing(t *testing.T) {
	boom := errors.New("classifier exploded")
	tests := []struct {
		name      string
		reobserve func(context.CancelFunc) func(StoredMessage) ([]Observation, error)
		want      error
	}{
		{"reobserve error", func(context.CancelFunc) func(StoredMessage) ([]Observation, error) {
			return func(m StoredMessage) ([]Observation, error) {
				if m.ID == 150 {
					return nil, boom
				}
				return []Observation{{Recipient: "victim@example.com", Class: "hard"}}, nil
			}
		}, boom},
		{"cancelled", func(cancel context.CancelFunc) func(StoredMessage) ([]Observation, error) {
			return func(m StoredMessage) ([]Observation, error) {
				if m.ID == 150 {
					cancel()
				}
				return []Observation{{Recipient: "victim@example.com", Class: "hard"}}, nil
			}
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path := openTest(t, Options{})
			var msgs []Message
			for i := range 200 {
				msgs = append(msgs, bounce(fmt.Sprintf("u%d@example.com", i%7), "soft", day(float64(i)/10)))
			}
			recordMany(t, db, msgs)
			before := snapshot(t, db)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := db.Rebuild(ctx, tt.reobserve(cancel), RebuildOptions{ChunkMessages: 50})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Rebuild: %v, want %v", err, tt.want)
			}
			compareSnapshots(t, before, snapshot(t, db))
			if _, err := db.Suppression(context.Background(), "victim@example.com"); !errors.Is(err, ErrNotFound) {
				t.Errorf("half a rebuild leaked: victim %v", err)
			}
			db.bolt.View(func(tx *bolt.Tx) error {
				if tx.Bucket(bucketRebuild) != nil {
					t.Error("the staging bucket was left behind")
				}
				return nil
			})
			checkCounters(t, db)
			checkFile(t, db)
			// The store works on, and reopens.
			record(t, db, bounce("after@example.com", "hard", day(30)))
			db.Close()
			db2, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			db2.Close()
		})
	}
}

// A crash in the middle of a Rebuild leaves its staging bucket; Open drops it.
func TestOpenDropsUnfinishedRebuild(t *testing.T) {
	db, path := openTest(t, Options{})
	record(t, db, bounce("a@example.com", "hard", t0))
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		stage, err := tx.CreateBucket(bucketRebuild)
		if err != nil {
			return err
		}
		b, err := stage.CreateBucket(bucketRecipients)
		if err != nil {
			return err
		}
		return b.Put([]byte("ghost@example.com"), []byte("{}"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRebuild) != nil {
			t.Error("Open kept the unfinished rebuild")
		}
		return nil
	})
	if _, _, err := db.Recipient(context.Background(), "a@example.com"); err != nil {
		t.Errorf("live data lost: %v", err)
	}
}

// Writes in the same process during a Rebuild would be lost by its swap:
// they fail, retryably, instead.
func TestRebuildRefusesWriters(t *testing.T) {
	db, _ := openTest(t, Options{})
	ctx := context.Background()
	record(t, db, bounce("a@example.com", "hard", t0))
	var errs []error
	_, err := db.Rebuild(ctx, func(m StoredMessage) ([]Observation, error) {
		_, err := db.Record(ctx, bounce("b@example.com", "hard", t0))
		errs = append(errs, err)
		_, err = db.Suppress(ctx, "c@example.com", "", "")
		errs = append(errs, err)
		errs = append(errs, db.Lift(ctx, "a@example.com", ""))
		// Reads go on, against the state before the rebuild.
		if _, _, err := db.Recipient(ctx, "a@example.com"); err != nil {
			t.Errorf("read during rebuild: %v", err)
		}
		return m.Observations, nil
	}, RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if !errors.Is(err, ErrRebuilding) {
			t.Errorf("write %d during rebuild: %v, want ErrRebuilding", i, err)
		}
	}
	if _, err := db.Suppress(ctx, "c@example.com", "", ""); err != nil {
		t.Errorf("Suppress after rebuild: %v", err)
	}
}

func TestRebuildEmptyStore(t *testing.T) {
	db, _ := openTest(t, Options{})
	st, err := db.Rebuild(context.Background(), keepObservations, RebuildOptions{})
	if err != nil || st.Messages != 0 || st.Recipients != 0 {
		t.Errorf("Rebuild of an empty store: %+v, %v", st, err)
	}
	if _, err := db.Rebuild(context.Background(), nil, RebuildOptions{}); err == nil {
		t.Error("Rebuild without a function succeeded")
	}
}

// recordMany records msgs in order in one transaction, as Record would one
// by one: tests need thousands of messages without thousands of fsyncs.
func recordMany(t testing.TB, db *DB, msgs []Message) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, m := range msgs {
			at := m.Received.UTC().Round(0)
			head, targets, err := encodeHead(messageRecord{Received: at, EnvelopeFrom: m.EnvelopeFrom, EnvelopeTo: m.EnvelopeTo, RawSize: len(m.Raw)}, m.Observations)
			if err != nil {
				return err
			}
			in := recordIn{at: at, head: head, raw: db.compress(m.Raw), rawSize: len(m.Raw), targets: targets, digest: m.Digest}
			if _, err := db.recordTx(tx, in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// state is everything a user can see of a store but event numbers.
type state struct {
	recipients   map[string]string // address -> stored JSON
	suppressions map[string]Suppression
	events       map[string][]Event // Seq zeroed
	messages     map[uint64]string  // id -> stored head
	raw          map[uint64]string
}

func snapshot(t testing.TB, db *DB) state {
	t.Helper()
	s := state{map[string]string{}, map[string]Suppression{}, map[string][]Event{}, map[uint64]string{}, map[uint64]string{}}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		live := liveState(tx)
		live.recipients.ForEach(func(k, v []byte) error {
			s.recipients[string(k)] = string(v)
			return nil
		})
		err := live.suppressions.ForEach(func(k, v []byte) error {
			sup, err := decodeSuppression(k, v)
			s.suppressions[string(k)] = sup
			return err
		})
		if err != nil {
			return err
		}
		err = live.events.ForEach(func(k, v []byte) error {
			e, err := decodeEvent(k, v)
			e.Seq = 0
			addr := string(k[:len(k)-9])
			s.events[addr] = append(s.events[addr], e)
			return err
		})
		if err != nil {
			return err
		}
		tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			s.messages[bytesToID(k)] = string(v)
			return nil
		})
		return tx.Bucket(bucketRaw).ForEach(func(k, v []byte) error {
			s.raw[bytesToID(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bytesToID(k []byte) uint64 {
	var id uint64
	for _, b := range k {
		id = id<<8 | uint64(b)
	}
	return id
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
		if g := got.recipients[addr]; g != w {
			t.Errorf("recipient %s:\n got %s\nwant %s", addr, g, w)
		}
	}
	if len(got.events) != len(want.events) {
		t.Errorf("histories of %d addresses, want %d", len(got.events), len(want.events))
	}
	for addr, w := range want.events {
		if g := got.events[addr]; !reflect.DeepEqual(g, w) {
			t.Errorf("history of %s:\n got %+v\nwant %+v", addr, g, w)
		}
	}
	if !reflect.DeepEqual(got.messages, want.messages) {
		t.Error("message heads differ")
	}
	if !reflect.DeepEqual(got.raw, want.raw) {
		t.Error("raw messages differ")
	}
}

// checkFile runs bbolt's consistency check: a swap that lost or doubled a
// page would show here.
func checkFile(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
