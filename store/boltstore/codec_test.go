package boltstore

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
	bolt "go.etcd.io/bbolt"
)

// The API prints events with snake_case keys straight from Event.
func TestEventJSON(t *testing.T) {
	e := store.Event{Seq: 7, Time: t0, MessageID: 3, Observation: store.Observation{
		Recipient: "a@example.com", Class: "hard", Reason: "user-unknown", Status: "5.1.1", SMTPCode: 550,
		Action: "failed", Diagnostic: "smtp; 550 no such user", RemoteMTA: "mx.example.com",
		FeedbackType: "abuse", Decoder: "postfix", Rule: "status-5.1.1", Detail: "d",
	}}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":7,"time":"2026-03-01T12:00:00Z","message_id":3,"recipient":"a@example.com","class":"hard",` +
		`"reason":"user-unknown","status":"5.1.1","smtp_code":550,"action":"failed","diagnostic":"smtp; 550 no such user",` +
		`"remote_mta":"mx.example.com","feedback_type":"abuse","decoder":"postfix","rule":"status-5.1.1","detail":"d"}`
	if string(got) != want {
		t.Errorf("Event JSON\n got %s\nwant %s", got, want)
	}
}

// The database keeps its own records: files written before Observation had
// JSON names read the same; new files get compact records, which read back
// as written.
func TestEventRecordFormat(t *testing.T) {
	o := store.Observation{Recipient: "<A@example.com>", Class: "hard", Reason: "user-unknown", SMTPCode: 550, RemoteMTA: "mx.example.com"}
	const stored = `{"time":"2026-03-01T12:00:00Z","message_id":3,"recipient":"\u003cA@example.com\u003e","class":"hard","reason":"user-unknown","smtp_code":550,"remote_mta":"mx.example.com"}`
	e, err := decodeEvent(eventKey("a@example.com", 9), []byte(stored))
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Event{Seq: 9, Time: t0, MessageID: 3, Observation: o}); e != want {
		t.Errorf("decoded %+v, want %+v", e, want)
	}

	full := store.Observation{Recipient: "a@example.com", Class: "hard", Reason: "user-unknown", Status: "5.1.1", SMTPCode: 550,
		Action: "failed", Diagnostic: "smtp; 550 no such user", RemoteMTA: "mx.example.com",
		FeedbackType: "abuse", Decoder: "postfix", Rule: "status-5.1.1", Detail: "d"}
	admin := store.Observation{Recipient: "a@example.com", Class: store.ClassAdmin, Reason: store.AdminSuppress}
	for _, o := range []store.Observation{o, full, {Recipient: "a@example.com"}, {SMTPCode: -1, Class: "ünïcode"}, admin} {
		k := eventKey("a@example.com", 12)
		v, err := encodeEvent("a@example.com", t0, 3, o)
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != compactFormat || len(v) >= len(stored) {
			t.Errorf("%+v: %d bytes starting %#x, want the compact format, smaller than JSON's %d", o, len(v), v[0], len(stored))
		}
		e, err := decodeEvent(k, v)
		if want := (store.Event{Seq: 12, Time: t0, MessageID: 3, Observation: o}); err != nil || e != want {
			t.Errorf("round trip: %+v, %v; want %+v", e, err, want)
		}
		if at, err := storedEventTime(k, v); err != nil || !at.Equal(t0) {
			t.Errorf("storedEventTime: %v, %v", at, err)
		}
		if isAdmin, err := isAdminEvent(k, v); err != nil || isAdmin != (o.Class == store.ClassAdmin) {
			t.Errorf("isAdminEvent: %v, %v; want %v", isAdmin, err, o.Class == store.ClassAdmin)
		}
		for i := 1; i < len(v); i++ {
			if _, err := decodeEvent(k, v[:i]); err == nil {
				t.Errorf("%+v cut to %d of %d bytes decoded", o, i, len(v))
				break
			}
		}
	}
}

// Recipient records: the compact form reads back as written, JSON ones
// from earlier versions still read, and a damaged one is an error.
func TestRecipientRecordFormat(t *testing.T) {
	r := store.Recipient{
		Address: "alice@example.com", Counts: map[string]int{"hard": 1, "soft": 4, "delayed": 2},
		FirstBounce: t0, LastBounce: day(3), LastClass: "soft", LastReason: "mailbox-full", LastStatus: "4.2.2",
		LastDiagnostic: "smtp; 452 4.2.2 Mailbox full",
		HardTimes:      []time.Time{t0}, SoftTimes: []time.Time{day(1), day(2), day(2.5), day(3)},
		Complaints: 2, StreaksClearedAt: day(-1),
	}
	v, err := encodeRecipient(r, diagRef{})
	if err != nil {
		t.Fatal(err)
	}
	got, ref, err := decodeRecipient(r.Address, v)
	if err != nil || !reflect.DeepEqual(got, r) || ref != (diagRef{}) {
		t.Errorf("round trip:\n got %+v, %+v, %v\nwant %+v", got, ref, err, r)
	}
	again, _ := encodeRecipient(got, ref)
	if !bytes.Equal(again, v) {
		t.Error("the same record encodes to other bytes")
	}
	old, _ := json.Marshal(r)
	if got, _, err := decodeRecipient(r.Address, old); err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("JSON record: %+v, %v", got, err)
	}
	if got, _, err := decodeRecipient(r.Address, encodeRecipientV1(t, r)); err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("record in compactFormat: %+v, %v", got, err)
	}
	if len(v) >= len(old)/2 {
		t.Errorf("compact record %d bytes, JSON %d; want under half", len(v), len(old))
	}

	// A record that refers to its last diagnostic holds no text, and
	// passes the reference on.
	want := diagRef{id: 300, index: 2}
	byRef, err := encodeRecipient(r, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(byRef) > len(v)-len(r.LastDiagnostic)+2 {
		t.Errorf("a record referring to its diagnostic takes %d bytes, holding it %d", len(byRef), len(v))
	}
	noDiag := r
	noDiag.LastDiagnostic = ""
	if got, ref, err := decodeRecipient(r.Address, byRef); err != nil || !reflect.DeepEqual(got, noDiag) || ref != want {
		t.Errorf("round trip by reference:\n got %+v, %+v, %v\nwant %+v, %+v", got, ref, err, noDiag, want)
	}

	// The zero record, and times far from the last bounce.
	for _, r := range []store.Recipient{{Address: "z@example.com"},
		{Address: "far@example.com", FirstBounce: time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC), LastBounce: time.Date(2250, 1, 1, 0, 0, 0, 0, time.UTC),
			HardTimes: []time.Time{time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC)}, StreaksClearedAt: time.Date(2250, 1, 1, 0, 0, 0, 1, time.UTC)}} {
		v, err := encodeRecipient(r, diagRef{})
		if got, _, err2 := decodeRecipient(r.Address, v); err != nil || err2 != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v, %v, %v\nwant %+v", got, err, err2, r)
		}
	}

	for _, v := range [][]byte{v, byRef} {
		for i := 1; i < len(v); i++ {
			if _, _, err := decodeRecipient(r.Address, v[:i]); err == nil {
				t.Errorf("record cut to %d of %d bytes decoded", i, len(v))
			}
		}
	}
	if _, err := encodeRecipient(store.Recipient{LastBounce: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, diagRef{}); err == nil {
		t.Error("a time UnixNano cannot hold was encoded")
	}
	if _, err := encodeRecipient(store.Recipient{LastBounce: t0, HardTimes: []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}}, diagRef{}); err == nil {
		t.Error("a time UnixNano cannot hold was encoded")
	}
	for _, format := range []byte{compactFormat, refFormat} {
		if got, _, err := decodeRecipient("b@example.com", []byte{format}); err == nil {
			t.Errorf("a record of its format byte alone decoded: %+v", got)
		}
	}
}

// encodeRecipientV1 encodes r as records were before refFormat: every
// time 8 bytes, the diagnostic held.
func encodeRecipientV1(t *testing.T, r store.Recipient) []byte {
	t.Helper()
	v := []byte{compactFormat}
	classes := slices.Sorted(maps.Keys(r.Counts))
	v = binary.AppendUvarint(v, uint64(len(classes)))
	for _, class := range classes {
		v = binary.AppendUvarint(appendString(v, class), uint64(r.Counts[class]))
	}
	times := func(ts ...time.Time) {
		for _, at := range ts {
			var err error
			if v, err = appendTime(v, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	times(r.FirstBounce, r.LastBounce)
	for _, s := range []string{r.LastClass, r.LastReason, r.LastStatus, r.LastDiagnostic} {
		v = appendString(v, s)
	}
	for _, ts := range [][]time.Time{r.HardTimes, r.SoftTimes} {
		v = binary.AppendUvarint(v, uint64(len(ts)))
		times(ts...)
	}
	v = binary.AppendUvarint(v, uint64(r.Complaints))
	times(r.StreaksClearedAt)
	return v
}

// Message heads: compact, and JSON ones from earlier versions still read.
func TestHeadRecordFormat(t *testing.T) {
	obs := []store.Observation{{Recipient: "not an address", Class: "unknown"}, {Recipient: "<B@example.com>", Class: "hard", SMTPCode: 550}}
	rec := messageRecord{Received: t0, EnvelopeFrom: "", EnvelopeTo: []string{"b=example.com@bounce.example"}, RawSize: 3000}
	v, err := encodeHead(rec, obs)
	if err != nil {
		t.Fatal(err)
	}
	want := rec
	want.Observations = []observationRecord{observationRecord(obs[0]), observationRecord(obs[1])}
	if got, err := decodeHead(1, v); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v, %v\nwant %+v", got, err, want)
	}
	if at, err := headReceived(1, v); err != nil || !at.Equal(t0) {
		t.Errorf("headReceived: %v, %v", at, err)
	}
	old, _ := json.Marshal(want)
	if got, err := decodeHead(1, old); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("JSON head: %+v, %v", got, err)
	}
	for i := 1; i < len(v); i++ {
		if _, err := decodeHead(1, v[:i]); err == nil {
			t.Errorf("head cut to %d of %d bytes decoded", i, len(v))
		}
	}
}

// New raw values are S2; values written by earlier versions (deflate, or
// stored as they are) still read; a damaged value is an error, not a huge
// allocation or a panic.
func TestRawCodec(t *testing.T) {
	db, _ := openTest(t, Options{})
	text := bytes.Repeat([]byte("Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"), 100)

	v := db.compress(text)
	if v[0] != rawS2 || len(v) >= len(text)/2 {
		t.Errorf("compress: encoding %d, %d bytes from %d; want S2 and under half", v[0], len(v), len(text))
	}
	var deflated bytes.Buffer
	deflated.WriteByte(rawDeflate)
	w, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	w.Write(text)
	w.Close()
	for name, v := range map[string][]byte{
		"s2":      v,
		"deflate": deflated.Bytes(),
		"stored":  append([]byte{rawStored}, text...),
	} {
		got, err := db.decompress(v, len(text))
		if err != nil || !bytes.Equal(got, text) {
			t.Errorf("%s: %d bytes, %v; want the %d bytes back", name, len(got), err, len(text))
		}
	}

	huge := append([]byte{rawS2}, binary.AppendUvarint(nil, 1<<40)...)
	for name, v := range map[string][]byte{
		"s2 truncated":     v[:len(v)/2],
		"s2 huge length":   huge,
		"deflate cut":      deflated.Bytes()[:deflated.Len()/2],
		"unknown encoding": {9, 1, 2},
		"empty":            nil,
	} {
		if got, err := db.decompress(v, 0); err == nil {
			t.Errorf("%s: %d bytes and no error", name, len(got))
		}
	}
}

func toRecord(s *store.Suppression) *suppressionRecord {
	if s == nil {
		return nil
	}
	return &suppressionRecord{Reason: s.Reason, Detail: s.Detail, Since: s.Since, Decoder: s.Decoder, Rule: s.Rule}
}

// Audit entries: compact, and JSON ones from earlier versions still read.
func TestAuditRecordFormat(t *testing.T) {
	before := &store.Suppression{Address: "a@example.com", Reason: "hard", Detail: "user_unknown", Since: t0, Decoder: "rfc3464", Rule: "status-5.1.1"}
	for _, e := range []store.AuditEntry{
		{Seq: 7, Time: day(1), Address: "a@example.com", Action: store.AuditSuppress, Actor: store.ActorPolicy,
			After: before, MessageID: 42, Verdict: &store.Observation{Recipient: "<A@example.com>", Class: "hard", SMTPCode: 550}},
		{Seq: 8, Time: day(2), Address: "a@example.com", Action: store.AuditLift, Actor: "ops", Before: before, Note: "by phone"},
		{Seq: 9, Time: day(3), Address: "a@example.com", Action: store.AuditSuppress, Actor: store.ActorPolicy, After: before,
			Verdict: &store.Observation{Class: "complaint", Advisory: true, ListmonkSubscriber: "12", ListmonkCampaign: "7"}},
	} {
		k := u64(e.Seq)
		v, err := encodeAudit(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeAudit(k, v)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("round trip:\n got %+v, %v\nwant %+v", got, err, e)
		}
		rec := auditRecord{Time: e.Time, Address: e.Address, Action: e.Action, Actor: e.Actor, Note: e.Note, MessageID: e.MessageID}
		rec.Before, rec.After = toRecord(e.Before), toRecord(e.After)
		if e.Verdict != nil {
			o := observationRecord(*e.Verdict)
			rec.Verdict = &o
		}
		old, _ := json.Marshal(rec)
		if got, err := decodeAudit(k, old); err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("JSON entry: %+v, %v", got, err)
		}
		if len(v) >= len(old)*2/3 {
			t.Errorf("compact entry %d bytes, JSON %d", len(v), len(old))
		}
		for i := 1; i < len(v); i++ {
			if _, err := decodeAudit(k, v[:i]); err == nil {
				t.Errorf("entry cut to %d of %d bytes decoded", i, len(v))
				break
			}
		}
	}
}

// An event recorded from a message refers to the observation in the
// message's head: it reads back whole through an eventReader, in a dozen
// bytes; a reference whose head or observation is missing, or that is
// cut short, is an error, not an empty observation.
func TestEventRefersToItsHead(t *testing.T) {
	obs := []store.Observation{
		{Recipient: "not an address", Class: "unknown"},
		{Recipient: "<B@example.com>", Class: "hard", Reason: "user-unknown", Status: "5.1.1", SMTPCode: 550,
			Diagnostic:         "smtp; 550 5.1.1 <b@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
			ListmonkSubscriber: "7", ListmonkCampaign: "9"},
		{Recipient: "c@example.com", Class: "soft", Advisory: true},
	}
	head, err := encodeHead(messageRecord{Received: t0, RawSize: 3000}, obs)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "refs.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		heads, err := tx.CreateBucket(bucketMessages)
		if err != nil {
			return err
		}
		if err := heads.Put(u64(5), head); err != nil {
			return err
		}
		hr := newHeadReader(heads)
		for i, o := range obs[1:] {
			i++
			k := eventKey("b@example.com", uint64(10+i))
			v, err := encodeEventRef(t0, 5, i)
			if err != nil {
				return err
			}
			if len(v) > 12 {
				t.Errorf("a reference takes %d bytes", len(v))
			}
			e, err := hr.event(k, v)
			if want := (store.Event{Seq: uint64(10 + i), Time: t0, MessageID: 5, Observation: o}); err != nil || e != want {
				t.Errorf("reference to observation %d: %+v, %v; want %+v", i, e, err, want)
			}
			if at, err := storedEventTime(k, v); err != nil || !at.Equal(t0) {
				t.Errorf("storedEventTime: %v, %v", at, err)
			}
			if admin, err := isAdminEvent(k, v); err != nil || admin {
				t.Errorf("isAdminEvent: %v, %v", admin, err)
			}
			if _, err := decodeEvent(k, v); err == nil {
				t.Error("decodeEvent read a reference without the heads")
			}
			for n := 1; n < len(v); n++ {
				if _, err := newHeadReader(heads).event(k, v[:n]); err == nil {
					t.Errorf("reference cut to %d of %d bytes decoded", n, len(v))
				}
			}
		}
		k := eventKey("b@example.com", 20)
		for _, ref := range []struct {
			id    uint64
			index int
		}{{6, 0}, {5, 3}} {
			v, err := encodeEventRef(t0, ref.id, ref.index)
			if err != nil {
				return err
			}
			if e, err := newHeadReader(heads).event(k, v); err == nil {
				t.Errorf("reference to message %d observation %d read as %+v", ref.id, ref.index, e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A file written before events and recipients referred to their message
// heads (every event holding its observation, every recipient record its
// diagnostic, in compactFormat) reads the same, takes new bounces, and a
// Rebuild of it changes nothing that reads.
func TestRecordsBeforeReferencesStillRead(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t, Options{})
	addrs := []string{"a@example.com", "b@example.com", "c@example.com"}
	diag := func(addr string, n int) string {
		return fmt.Sprintf("smtp; 550 5.1.1 <%s>: no such user (%d)", addr, n)
	}
	for i := range 9 {
		m := bounce(addrs[i%3], []string{"soft", "hard", "delayed"}[i%3], day(float64(i)))
		m.Observations[0].Diagnostic = diag(addrs[i%3], i)
		record(t, db, m)
	}
	type view struct {
		recipients []store.Recipient
		history    [][]store.Event
		dump       []store.Item
	}
	read := func() view {
		t.Helper()
		var v view
		for _, addr := range addrs {
			r, events, err := db.Recipient(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			v.recipients, v.history = append(v.recipients, r), append(v.history, events)
		}
		err := db.Dump(ctx, func(it store.Item) error { v.dump = append(v.dump, it); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := read()
	if want.recipients[0].LastDiagnostic != diag(addrs[0], 6) {
		t.Fatalf("last diagnostic %q, want %q", want.recipients[0].LastDiagnostic, diag(addrs[0], 6))
	}

	// Rewrite every event and recipient record as the version before did.
	converted := 0
	err := db.update(func(tx *bolt.Tx) error {
		hr := newHeadReader(tx.Bucket(bucketMessages))
		// rewrite replaces every value of bucket with what old makes of it.
		rewrite := func(bucket *bolt.Bucket, old func(k, v []byte) ([]byte, error)) error {
			values := map[string][]byte{}
			err := bucket.ForEach(func(k, v []byte) error {
				v, err := old(k, v)
				values[string(k)] = v
				return err
			})
			for k, v := range values {
				if err == nil {
					err = bucket.Put([]byte(k), v)
				}
			}
			return err
		}
		err := rewrite(tx.Bucket(bucketEvents), func(k, v []byte) ([]byte, error) {
			e, err := hr.event(k, v)
			if err != nil {
				return nil, err
			}
			return encodeEvent(eventAddr(k), e.Time, e.MessageID, e.Observation)
		})
		if err != nil {
			return err
		}
		return rewrite(tx.Bucket(bucketRecipients), func(k, v []byte) ([]byte, error) {
			r, ref, err := decodeRecipient(string(k), v)
			if err != nil {
				return nil, err
			}
			if ref == (diagRef{}) {
				t.Errorf("recipient %s holds its diagnostic", k)
			}
			converted++
			if err := hr.lastDiagnostic(&r, ref); err != nil {
				return nil, err
			}
			return encodeRecipientV1(t, r), nil
		})
	})
	if err != nil || converted != len(addrs) {
		t.Fatalf("converting: %v (%d recipients)", err, converted)
	}
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Fatalf("records of the version before read otherwise:\n got %+v\nwant %+v", got, want)
	}

	// A new bounce for a, and a late one for b, on the old records.
	m := bounce(addrs[0], "hard", day(20))
	m.Observations[0].Diagnostic = diag(addrs[0], 20)
	record(t, db, m)
	m = bounce(addrs[1], "hard", day(-1))
	m.Observations[0].Diagnostic = diag(addrs[1], -1)
	record(t, db, m)
	want = read()
	if got := want.recipients[0].LastDiagnostic; got != diag(addrs[0], 20) {
		t.Errorf("a: last diagnostic %q after a new bounce", got)
	}
	if got := want.recipients[1].LastDiagnostic; got != diag(addrs[1], 7) {
		t.Errorf("b: last diagnostic %q after a late bounce, want the one of day 7", got)
	}
	if len(want.history[0]) != 4 || want.history[0][0].Diagnostic != diag(addrs[0], 0) || want.history[0][3].Diagnostic != diag(addrs[0], 20) {
		t.Errorf("a's history mixes formats wrong: %+v", want.history[0])
	}

	if _, err := db.Rebuild(ctx, func(m store.StoredMessage) ([]store.Observation, error) { return m.Observations, nil }, store.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	got := read()
	for i := range got.history { // a Rebuild numbers the events anew
		for j := range got.history[i] {
			got.history[i][j].Seq = want.history[i][j].Seq
		}
	}
	if !reflect.DeepEqual(got.recipients, want.recipients) || !reflect.DeepEqual(got.history, want.history) {
		t.Errorf("a Rebuild changed what reads:\n got %+v\n %+v\nwant %+v\n %+v", got.recipients, got.history, want.recipients, want.history)
	}
}

// headObservation reads each observation of a head as decodeHead does,
// skipping the others, for heads with and without their later fields
// and in JSON; one it does not hold, or a head cut short, is an error.
func TestHeadObservation(t *testing.T) {
	full := store.Observation{Recipient: "a@example.com", Class: "hard", Reason: "user-unknown", Status: "5.1.1", SMTPCode: -550,
		Action: "failed", Diagnostic: "smtp; 550 no such user", RemoteMTA: "mx.example.com",
		FeedbackType: "abuse", Decoder: "postfix", Rule: "status-5.1.1", Detail: "d"}
	heads := map[string][]store.Observation{
		"plain":    {{Recipient: "x@example.com", Class: "soft"}, full, {}},
		"advisory": {{Recipient: "x@example.com", Advisory: true}, full, {Class: "delayed", Advisory: true}},
		"listmonk": {full, {Recipient: "y@example.com", ListmonkSubscriber: "7", ListmonkCampaign: "9", Advisory: true}, {ListmonkCampaign: "3"}},
	}
	for name, obs := range heads {
		v, err := encodeHead(messageRecord{Received: t0, RawSize: 10, EnvelopeTo: []string{"b@bounce.example", "c@bounce.example"}, Duplicates: 2, LastDuplicate: day(1)}, obs)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := decodeHead(4, v)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := json.Marshal(rec)
		for format, v := range map[string][]byte{"compact": v, "JSON": old} {
			for i := range obs {
				if got, err := headObservation(4, v, uint64(i)); err != nil || got != obs[i] {
					t.Errorf("%s, %s, observation %d: %+v, %v; want %+v", name, format, i, got, err, obs[i])
				}
			}
			if got, err := headObservation(4, v, uint64(len(obs))); err == nil {
				t.Errorf("%s, %s: observation %d of %d read as %+v", name, format, len(obs), len(obs), got)
			}
		}
		for n := 1; n < len(v); n++ { // it reads the whole head, as decodeHead does
			_, err := headObservation(4, v[:n], 1)
			if _, want := decodeHead(4, v[:n]); (err == nil) != (want == nil) {
				t.Errorf("%s cut to %d of %d bytes: %v; decodeHead: %v", name, n, len(v), err, want)
			}
		}
	}
}
