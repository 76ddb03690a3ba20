// Package ingest turns one received message into stored state: it decodes
// the VERP tags of the envelope (checking signed ones, see signed.go),
// classifies the bytes and records the message with all its verdicts in one
// store transaction. The SMTP server calls it for every accepted message;
// the reclassify command replays stored messages through Observe.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/verp"
)

// Envelope is what the SMTP transaction said about a message.
type Envelope struct {
	From string   // MAIL FROM; empty for the null sender <>
	To   []string // RCPT TO, in order
	ID   string   // names the message in logs, e.g. the SMTP session's message id
}

// Sink classifies messages and records them. The zero values of Now,
// Logger and Classify mean time.Now, slog.Default and classify.Classify.
type Sink struct {
	Store         store.Writer
	Now           func() time.Time
	VERPSeparator string
	Logger        *slog.Logger
	// Signer, when set, checks signed return paths: the recipient a
	// signature names is the one the message's verdicts apply to, whatever
	// the report says (see bind).
	Signer *verp.Signer
	// Classify replaces the classifier, for tests.
	Classify func(raw []byte, in classify.Input) []classify.Verdict
	// Recorded, when set, is told the observations of every message Deliver
	// has put on disk (serve counts verdicts with it; replays through
	// Observe are not told). It runs before the SMTP reply: keep it quick.
	Recorded func(obs []store.Observation)
}

// Deliver classifies raw and records it with its verdicts in one
// transaction. A nil error means the message is on disk.
func (s *Sink) Deliver(ctx context.Context, env Envelope, raw []byte) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	received := now()
	log := s.logger().With(slog.String("msg_id", env.ID))
	obs := s.observe(log, env, raw, received)
	id, err := s.Store.Record(ctx, store.Message{
		Received:     received,
		EnvelopeFrom: env.From,
		EnvelopeTo:   env.To,
		Raw:          raw,
		Observations: obs,
	})
	if err != nil {
		return fmt.Errorf("ingest: record message: %w", err)
	}
	if s.Recorded != nil {
		s.Recorded(obs)
	}
	log.LogAttrs(ctx, slog.LevelDebug, "message recorded",
		slog.Uint64("store_id", id), slog.Int("observations", len(obs)))
	return nil
}

// Observe returns the observations Deliver would record for a message
// received at the given time, without recording anything. The reclassify
// command replays stored messages through it, so a stored message is
// judged exactly as a newly received one.
func (s *Sink) Observe(env Envelope, raw []byte, received time.Time) []store.Observation {
	return s.observe(s.logger().With(slog.String("msg_id", env.ID)), env, raw, received)
}

// observe classifies raw once per distinct VERP recipient among the
// envelope recipients (normally there is one RCPT) and returns the
// distinct observations. Those naming no valid recipient are kept too: the
// store files them with the message, for review, and only skips the
// per-recipient state.
func (s *Sink) observe(log *slog.Logger, env Envelope, raw []byte, now time.Time) []store.Observation {
	var (
		obs  []store.Observation
		seen = map[string]bool{} // VERP recipients already classified for
		dups = map[store.Observation]bool{}
	)
	for _, rcpt := range envelopeRecipients(env) {
		original, signed, isSigned := s.recipientOf(rcpt, now)
		key := original
		if isSigned {
			key = "signed\x00" + signed.Recipient + "\x00" + rcpt
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		in := classify.Input{EnvelopeRecipient: rcpt, VERPRecipient: original, Now: now}
		vs := s.classify(log, raw, in)
		if isSigned {
			vs = bind(vs, signed)
		}
		for _, v := range vs {
			o := observation(v)
			if dups[o] {
				continue
			}
			dups[o] = true
			obs = append(obs, o)
		}
	}
	return obs
}

// envelopeRecipients returns env.To, or a single empty recipient so that a
// message is classified even when the caller knows no envelope.
func envelopeRecipients(env Envelope) []string {
	if len(env.To) == 0 {
		return []string{""}
	}
	return env.To
}

// classify runs the classifier, turning a panic (which its contract rules
// out) into an unknown verdict: a message that crashes the classifier must
// still be acknowledged and kept, or the sender would retry it forever.
func (s *Sink) classify(log *slog.Logger, raw []byte, in classify.Input) (vs []classify.Verdict) {
	fn := classify.Classify
	if s.Classify != nil {
		fn = s.Classify
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("classifier panicked", slog.Any("panic", p),
				slog.String("envelope_recipient", in.EnvelopeRecipient))
			vs = []classify.Verdict{{Recipient: in.VERPRecipient, Class: classify.Unknown,
				Reason: classify.ReasonUnknown, Evidence: classify.Evidence{Decoder: "none", Rule: "classifier-panic"}}}
		}
	}()
	return fn(raw, in)
}

// observation maps a verdict to what the store records.
func observation(v classify.Verdict) store.Observation {
	return store.Observation{
		Recipient:    v.Recipient,
		Class:        string(v.Class),
		Reason:       string(v.Reason),
		Status:       v.Status,
		SMTPCode:     v.SMTPCode,
		Action:       v.Action,
		Diagnostic:   v.Diagnostic,
		RemoteMTA:    v.RemoteMTA,
		FeedbackType: v.FeedbackType,
		Decoder:      v.Evidence.Decoder,
		Rule:         v.Evidence.Rule,
		Detail:       v.Evidence.Detail,

		ListmonkSubscriber: v.Returned.ListmonkSubscriber,
		ListmonkCampaign:   v.Returned.ListmonkCampaign,
	}
}

func (s *Sink) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
