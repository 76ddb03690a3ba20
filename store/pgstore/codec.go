package pgstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/bouncesink/bouncesink/store"
)

// observationRecord is store.Observation as stored: the same fields in
// the same order, with names of its own, as the bbolt engine keeps it.
type observationRecord struct {
	Recipient    string `json:"recipient,omitempty"`
	Class        string `json:"class,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Status       string `json:"status,omitempty"`
	SMTPCode     int    `json:"smtp_code,omitempty"`
	Action       string `json:"action,omitempty"`
	Diagnostic   string `json:"diagnostic,omitempty"`
	RemoteMTA    string `json:"remote_mta,omitempty"`
	FeedbackType string `json:"feedback_type,omitempty"`
	Decoder      string `json:"decoder,omitempty"`
	Rule         string `json:"rule,omitempty"`
	Detail       string `json:"detail,omitempty"`
	Advisory     bool   `json:"advisory,omitempty"`
	// The listmonk UUIDs of the returned message's header.
	ListmonkSubscriber string `json:"listmonk_subscriber,omitempty"`
	ListmonkCampaign   string `json:"listmonk_campaign,omitempty"`
}

// messageHead is a message without its raw bytes.
type messageHead struct {
	EnvelopeFrom string              `json:"envelope_from"`
	EnvelopeTo   []string            `json:"envelope_to,omitempty"`
	RawSize      int                 `json:"raw_size"`
	Observations []observationRecord `json:"observations,omitempty"`
}

// auditBody is what the audit table keeps of an entry besides its
// columns.
type auditBody struct {
	Action    string             `json:"action"`
	Before    *suppressionRecord `json:"before,omitempty"`
	After     *suppressionRecord `json:"after,omitempty"`
	Note      string             `json:"note,omitempty"`
	MessageID uint64             `json:"message_id,omitempty"`
	Verdict   *observationRecord `json:"verdict,omitempty"`
}

type suppressionRecord struct {
	Reason  string    `json:"reason"`
	Detail  string    `json:"detail,omitempty"`
	Since   time.Time `json:"since"`
	Decoder string    `json:"decoder,omitempty"`
	Rule    string    `json:"rule,omitempty"`
}

func toRecord(s *store.Suppression) *suppressionRecord {
	if s == nil {
		return nil
	}
	return &suppressionRecord{Reason: s.Reason, Detail: s.Detail, Since: s.Since, Decoder: s.Decoder, Rule: s.Rule}
}

func fromRecord(addr string, r *suppressionRecord) *store.Suppression {
	if r == nil {
		return nil
	}
	return &store.Suppression{Address: addr, Reason: r.Reason, Detail: r.Detail, Since: r.Since, Decoder: r.Decoder, Rule: r.Rule}
}

func encodeAudit(e store.AuditEntry) ([]byte, error) {
	b := auditBody{Action: e.Action, Before: toRecord(e.Before), After: toRecord(e.After), Note: e.Note, MessageID: e.MessageID}
	if e.Verdict != nil {
		o := observationRecord(*e.Verdict)
		b.Verdict = &o
	}
	return json.Marshal(b)
}

func decodeAudit(seq uint64, at int64, addr, actor string, v []byte) (store.AuditEntry, error) {
	var b auditBody
	if err := json.Unmarshal(v, &b); err != nil {
		return store.AuditEntry{}, fmt.Errorf("audit %d: %w", seq, err)
	}
	e := store.AuditEntry{Seq: seq, Time: fromNanos(at), Address: addr, Action: b.Action, Actor: actor,
		Before: fromRecord(addr, b.Before), After: fromRecord(addr, b.After), Note: b.Note, MessageID: b.MessageID}
	if b.Verdict != nil {
		o := store.Observation(*b.Verdict)
		e.Verdict = &o
	}
	return e, nil
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// text makes s fit a text column: PostgreSQL refuses NULs and bytes that
// are not UTF-8 there, and a bounce may carry both. (JSON columns keep
// them: encoding/json escapes NULs and replaces invalid bytes.)
func text(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Raw messages start with a byte naming their encoding, as in the bbolt
// engine: S2 where it shrinks them, else stored as they are.
const (
	rawStored = 0
	rawS2     = 2
	maxRawLen = 64 << 20
)

func compress(raw []byte) []byte {
	out := make([]byte, 1+s2.MaxEncodedLen(len(raw)))
	out[0] = rawS2
	enc := s2.Encode(out[1:], raw)
	if len(enc) >= len(raw) {
		return append([]byte{rawStored}, raw...)
	}
	return out[:1+len(enc)]
}

func decompress(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, errors.New("empty raw message value")
	}
	switch v[0] {
	case rawStored:
		return v[1:], nil
	case rawS2:
		n, err := s2.DecodedLen(v[1:])
		if err != nil {
			return nil, fmt.Errorf("s2 raw message: %w", err)
		}
		if n > maxRawLen {
			return nil, fmt.Errorf("s2 raw message: length %d over %d", n, maxRawLen)
		}
		out, err := s2.Decode(nil, v[1:])
		if err != nil {
			return nil, fmt.Errorf("s2 raw message: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("raw message encoding %d unknown", v[0])
}

func encodeRecipient(r store.Recipient) ([]byte, error) {
	r.Suppressed, r.Suppression = false, nil
	return json.Marshal(r)
}

func decodeRecipient(v []byte) (store.Recipient, error) {
	var r store.Recipient
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Recipient{}, fmt.Errorf("recipient: %w", err)
	}
	return r, nil
}
