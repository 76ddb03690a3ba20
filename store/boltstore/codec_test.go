package boltstore

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"github.com/bouncesink/bouncesink/store"
	"testing"
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
// JSON names read the same, and new files are written the same way.
func TestEventRecordFormat(t *testing.T) {
	o := store.Observation{Recipient: "<A@example.com>", Class: "hard", Reason: "user-unknown", SMTPCode: 550, RemoteMTA: "mx.example.com"}
	const stored = `{"time":"2026-03-01T12:00:00Z","message_id":3,"recipient":"\u003cA@example.com\u003e","class":"hard","reason":"user-unknown","smtp_code":550,"remote_mta":"mx.example.com"}`
	v, err := encodeEvent(t0, 3, o)
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != stored {
		t.Errorf("event record\n got %s\nwant %s", v, stored)
	}
	e, err := decodeEvent(eventKey("a@example.com", 9), []byte(stored))
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Event{Seq: 9, Time: t0, MessageID: 3, Observation: o}); e != want {
		t.Errorf("decoded %+v, want %+v", e, want)
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
