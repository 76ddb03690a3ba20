// Package ingest turns one received message into stored state: it decodes
// the VERP tags of the envelope (checking signed ones), classifies the
// bytes once, decides whom each verdict may count against (bind.go) and
// records the message with all its verdicts in one store transaction,
// deduplicated by a digest of the envelope and the bytes. The SMTP server
// calls it for every accepted message; the reclassify command replays
// stored messages through Observe.
package ingest

import (
	"context"
	"errors"
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

// DefaultClassifyTimeout bounds the classification of one message when
// Sink.ClassifyTimeout is zero. A benign 10 MiB message takes well under a
// second; past the deadline the message is kept with the verdict the
// classifier had (class unknown, rule "cancelled", when it had none).
const DefaultClassifyTimeout = 30 * time.Second

// Sink classifies messages and records them. The zero values of Now,
// Logger and Classify mean time.Now, slog.Default and
// classify.ClassifyContext.
type Sink struct {
	Store         store.Writer
	Now           func() time.Time
	VERPSeparator string
	Logger        *slog.Logger
	// Signer, when set, checks signed return paths: the recipient a
	// signature names is the one the message's verdicts apply to, whatever
	// the report says (see bind).
	Signer *verp.Signer
	// BounceSenders are envelope senders other than <> whose bounces count
	// as if they came from <> (a known MTA that sends its delivery reports
	// from a real address): addresses, or "@domain" for a whole domain.
	// See nullSenderRule.
	BounceSenders []string
	// ClassifyTimeout bounds the classification of one message; zero means
	// DefaultClassifyTimeout.
	ClassifyTimeout time.Duration
	// RawQuota, when positive, is the most raw message bytes the store may
	// keep (store.Message.RawQuota); past it Deliver fails with an error
	// wrapping store.ErrQuota.
	RawQuota int64
	// Classify replaces the classifier, for tests.
	Classify func(ctx context.Context, raw []byte, in classify.Input) []classify.Verdict
	// Recorded, when set, is told the observations of every message Deliver
	// has put on disk (serve counts verdicts with it; replays through
	// Observe and duplicates are not told). It runs before the SMTP reply:
	// keep it quick.
	Recorded func(obs []store.Observation)
}

// ErrAbandoned is wrapped by Deliver's error when ctx ended (the client
// went away, or the server is shutting down) before the message was
// classified: nothing is stored and the sender, if still there, retries.
var ErrAbandoned = errors.New("ingest: message abandoned")

// Deliver classifies raw and records it with its verdicts in one
// transaction. A nil error means the message is on disk, or was already
// (a duplicate of one recorded within the store's duplicate window, which
// counts once). Classification stops when ctx is done, and Deliver then
// fails with ErrAbandoned.
func (s *Sink) Deliver(ctx context.Context, env Envelope, raw []byte) error {
	received := s.now()
	obs := s.observe(ctx, env, raw, received)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrAbandoned, err)
	}
	id, err := s.Store.Record(ctx, store.Message{
		Received:     received,
		EnvelopeFrom: env.From,
		EnvelopeTo:   env.To,
		Raw:          raw,
		Observations: obs,
		Digest:       digest(env, raw),
		RawQuota:     s.RawQuota,
	})
	if errors.Is(err, store.ErrDuplicate) {
		s.logger().LogAttrs(ctx, slog.LevelInfo, "duplicate message: acknowledged, counted once",
			msgID(env), slog.Uint64("store_id", id))
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingest: record message: %w", err)
	}
	if s.Recorded != nil {
		s.Recorded(obs)
	}
	s.logger().LogAttrs(ctx, slog.LevelDebug, "message recorded",
		msgID(env), slog.Uint64("store_id", id), slog.Int("observations", len(obs)))
	return nil
}

// Observe returns the observations Deliver would record for a message
// received at the given time, without recording anything. The reclassify
// command replays stored messages through it, so a stored message is
// judged exactly as a newly received one.
func (s *Sink) Observe(env Envelope, raw []byte, received time.Time) []store.Observation {
	return s.observe(context.Background(), env, raw, received)
}

// observe classifies raw once, whatever the number of envelope recipients,
// and returns the distinct observations. The verdicts are bound to the
// recipients the return paths name (bind.go), at most one verdict of the
// message counts per recipient, a verdict applied to no one is kept once
// (reviewOnce), and a message from a sender other than <> is evidence
// only (nullSenderRule). Observations naming no valid
// recipient are kept too: the store files them with the message, for
// review, and only skips the per-recipient state.
func (s *Sink) observe(ctx context.Context, env Envelope, raw []byte, now time.Time) []store.Observation {
	rcpts := envelopeRecipients(env)
	bindings := s.bindings(rcpts, now)
	in := classify.Input{EnvelopeRecipient: rcpts[0], Now: now}
	if len(bindings) == 1 {
		in.VERPRecipient = bindings[0].recipient
	}
	vs := s.classify(ctx, msgID(env), raw, in)

	bound := reviewOnce(oncePerRecipient(bindAll(bindings, vs)))
	s.nullSenderRule(env.From, bound)

	var obs []store.Observation
	seen := map[store.Observation]bool{}
	for _, b := range bound {
		o := observation(b.Verdict)
		o.Advisory = b.advisory
		if seen[o] {
			continue
		}
		seen[o] = true
		obs = append(obs, o)
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

// classify runs the classifier under the classification deadline,
// turning a panic (which its contract rules out) into an unknown verdict:
// a message that crashes the classifier must still be acknowledged and
// kept, or the sender would retry it forever.
func (s *Sink) classify(ctx context.Context, msgID slog.Attr, raw []byte, in classify.Input) (vs []classify.Verdict) {
	fn := classify.ClassifyContext
	if s.Classify != nil {
		fn = s.Classify
	}
	timeout := s.ClassifyTimeout
	if timeout <= 0 {
		timeout = DefaultClassifyTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("classifier panicked", msgID, slog.Any("panic", p),
				slog.String("envelope_recipient", in.EnvelopeRecipient))
			vs = []classify.Verdict{{Recipient: in.VERPRecipient, Class: classify.Unknown,
				Reason: classify.ReasonUnknown, Evidence: classify.Evidence{Decoder: "none", Rule: "classifier-panic"}}}
		}
	}()
	vs = fn(cctx, raw, in)
	if ctx.Err() == nil && cctx.Err() != nil {
		s.logger().Warn("classification ran out of time; keeping what it found", msgID, slog.Duration("timeout", timeout),
			slog.Int("bytes", len(raw)), slog.Int("verdicts", len(vs)))
	}
	return vs
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

func (s *Sink) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// msgID names the message in every log line about it. (An attribute, not
// a logger made With it: most messages log nothing here.)
func msgID(env Envelope) slog.Attr { return slog.String("msg_id", env.ID) }

func (s *Sink) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
