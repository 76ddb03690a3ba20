// Package store is the contract of bouncesink's durable state: one record
// per recipient address, each recipient's event history, the raw messages,
// the suppression list with the policy that fills it, and the audit trail
// of its changes. It holds the types, the policy's decisions, address
// normalisation and the interfaces (Writer, Reader, Admin, Store) that the
// rest of bouncesink uses; the engines that keep the state implement them
// in packages of their own (boltstore: an embedded bbolt file). It knows
// nothing of MIME or SMTP: callers hand it plain observations, and to
// Rebuild the state after a classifier change, a function that makes new
// ones.
package store

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned when an address has no record.
var ErrNotFound = errors.New("store: not found")

// ErrDuplicate is wrapped by the error Record returns for a message that
// repeats one it recorded within Policy.DuplicateWindow. The repeat was
// counted on the first message (StoredMessage.Duplicates) and changed
// nothing else: the caller treats it as delivered.
var ErrDuplicate = errors.New("store: message already recorded")

// ErrQuota is wrapped by the error Record returns for a message that would
// take the raw bytes kept past Message.RawQuota. Nothing of it is kept.
var ErrQuota = errors.New("store: raw message quota reached")

// ErrLocked is wrapped by an engine's open when another process holds the
// store that only one process may hold at a time (a bbolt file).
var ErrLocked = errors.New("store: database is locked by another process")

// ErrRebuilding is wrapped by the write methods while a Rebuild runs; the
// write may be retried once it is done.
var ErrRebuilding = errors.New("store: rebuild in progress")

// ErrInvalidAddress is wrapped by every error Normalize returns, so a caller
// can tell a bad address (a client error) from a storage failure.
var ErrInvalidAddress = errors.New("store: invalid address")

// Observation is one verdict about one recipient, as the store sees it.
// The JSON names are for API output; the database keeps its own record
// (boltstore's observationRecord), so renaming a field here changes no file.
type Observation struct {
	Recipient    string `json:"recipient"` // raw address; the store normalises it
	Class        string `json:"class"`     // hard, soft, block, complaint, autoreply, delayed, delivered, unknown; "admin" in history for Suppress and Lift
	Reason       string `json:"reason"`
	Status       string `json:"status"` // enhanced status code, "5.1.1"
	SMTPCode     int    `json:"smtp_code"`
	Action       string `json:"action"`
	Diagnostic   string `json:"diagnostic"`
	RemoteMTA    string `json:"remote_mta"`
	FeedbackType string `json:"feedback_type"` // ARF (RFC 5965 s3.1) Feedback-Type of a complaint
	Decoder      string `json:"decoder"`
	Rule         string `json:"rule"`
	Detail       string `json:"detail"`
	// Advisory marks an observation kept as evidence only: it is recorded in
	// the recipient's history and counted like any other (Counts, Stats),
	// but the policy never acts on it, whatever its class (see Policy).
	// Ingestion sets it, for instance, on a hard bounce that did not come
	// from the null sender.
	Advisory bool `json:"advisory,omitempty"`
	// ListmonkSubscriber and ListmonkCampaign are the UUIDs listmonk
	// stamps on every campaign message (X-Listmonk-Subscriber,
	// X-Listmonk-Campaign), as the header of the returned message carried
	// them: they name the subscriber and the campaign exactly, for the
	// listmonk webhook. Empty when it carried none.
	ListmonkSubscriber string `json:"listmonk_subscriber,omitempty"`
	ListmonkCampaign   string `json:"listmonk_campaign,omitempty"`
}

// Message is one received message with the observations made of it; it is
// recorded in one transaction.
type Message struct {
	Received     time.Time
	EnvelopeFrom string
	EnvelopeTo   []string
	Raw          []byte // stored compressed
	Observations []Observation
	// Digest, when not empty, names the message for deduplication (1 to 64
	// bytes, opaque to the store; ingestion uses a hash of the envelope and
	// the bytes): see Writer.Record.
	Digest []byte
	// RawQuota, when positive, is the most raw bytes (Stats.RawBytes) the
	// store may keep: Record refuses a message that would go past it with
	// ErrQuota.
	RawQuota int64
}

// Event is one observation in a recipient's history.
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	MessageID uint64    `json:"message_id"`
	Observation
}

// Recipient is the state kept for one normalised address.
type Recipient struct {
	Address string         `json:"address"`
	Counts  map[string]int `json:"counts"` // per class
	// FirstBounce and LastBounce are the earliest and latest receipt of a
	// message naming the address, whatever its class; the Last* fields
	// describe the latest one.
	FirstBounce    time.Time `json:"first_bounce"`
	LastBounce     time.Time `json:"last_bounce"`
	LastClass      string    `json:"last_class"`
	LastReason     string    `json:"last_reason"`
	LastStatus     string    `json:"last_status"`
	LastDiagnostic string    `json:"last_diagnostic"`
	// Recent hard and soft bounce times the policy looks at, oldest first:
	// those within its windows, at most the threshold's worth (and, for
	// soft bounces, the oldest besides, which sets the span). The full
	// history is in the events.
	HardTimes []time.Time `json:"hard_times,omitempty"`
	SoftTimes []time.Time `json:"soft_times,omitempty"`
	// Complaints counts complaints since the last Lift; the policy compares
	// it with ComplaintThreshold. Counts["complaint"] keeps the lifetime total.
	Complaints int `json:"complaints,omitempty"`
	// StreaksClearedAt is the latest delivery or Lift: hard and soft bounces
	// received at or before it no longer count toward a suppression.
	StreaksClearedAt time.Time `json:"streaks_cleared_at,omitzero"`

	Suppressed  bool         `json:"suppressed"`
	Suppression *Suppression `json:"suppression,omitempty"`
}

// Suppression says why and since when an address is suppressed.
type Suppression struct {
	Address string    `json:"address"`
	Reason  string    `json:"reason"` // "hard", "complaint", "soft" (policy) or "manual"
	Detail  string    `json:"detail"` // e.g. the last verdict's reason token
	Since   time.Time `json:"since"`
	// Decoder and Rule are the classifier's decoder and rule of the
	// verdict that tipped the address over (its Evidence), for a
	// suppression the policy made; empty for a manual or imported one,
	// and for a suppression made before they were kept (bouncesink
	// reclassify fills them). Each at most MaxReasonLen bytes.
	Decoder string `json:"decoder,omitempty"`
	Rule    string `json:"rule,omitempty"`
}

// Policy decides when an address is suppressed. It counts three classes
// of observation: hard bounces, soft bounces and complaints; a delivery
// forgets the hard and soft bounces before it, and a Lift forgets all three.
// It never acts on an Advisory observation, of any class.
//
// A complaint counts only when the recipient complained. An ARF report
// whose Feedback-Type is "auth-failure" (RFC 6591: a DMARC, DKIM or SPF
// failure report about the sending domain) or "not-spam" (RFC 6430: the
// recipient says the message was wanted) is recorded in the history and in
// Counts["complaint"] like any other, but never leads to a complaint
// suppression.
type Policy struct {
	HardThreshold      int           // hard bounces ...
	HardWindow         time.Duration // ... within this window
	ComplaintThreshold int
	SoftThreshold      int           // soft bounces ...
	SoftMinSpan        time.Duration // ... spread over at least this long
	SoftWindow         time.Duration // counted within this window
	// DuplicateWindow is how long a recorded message's Digest is
	// remembered: a message with the same Digest received within it after
	// the first is a duplicate (Writer.Record). Zero turns deduplication off.
	DuplicateWindow time.Duration
}

// DefaultPolicy is the policy used when the config sets none.
func DefaultPolicy() Policy {
	return Policy{
		HardThreshold: 2, HardWindow: 30 * 24 * time.Hour,
		ComplaintThreshold: 1,
		SoftThreshold:      5, SoftMinSpan: 3 * 24 * time.Hour, SoftWindow: 30 * 24 * time.Hour,
		DuplicateWindow: DefaultDuplicateWindow,
	}
}

// DefaultDuplicateWindow is a week: longer than the five days or so an MTA
// keeps retrying a message whose 250 it never saw (Postfix, Sendmail and
// Exim give up after four to five days).
const DefaultDuplicateWindow = 7 * 24 * time.Hour

// Writer is what SMTP ingestion needs.
type Writer interface {
	// Record commits the message and all its observations in one
	// transaction, applying the policy; it returns the message id.
	//
	// It returns only once the transaction is durable, so that the SMTP
	// server's 250 follows the commit. Observations whose recipient does
	// not normalise are kept in the message but create no state. Each
	// observation is applied with Policy.Observe to the recipient's state
	// as committed by every writer before it (no two writers, in this
	// process or another, apply observations of one address at once), at
	// m.Received; the first suppression of an address stands until a
	// Lift, and is appended to the audit trail (actor "policy"). Message
	// ids increase. Fails with ErrRebuilding while a Rebuild runs.
	//
	// Deduplication: when m.Digest is set and a message with the same
	// Digest was recorded at most Policy.DuplicateWindow before
	// m.Received, Record stores nothing of m and applies none of its
	// observations (no event, no counter, no policy, no audit entry); it
	// adds one to the first message's Duplicates, sets its LastDuplicate
	// to m.Received, and returns the first message's id with an error
	// wrapping ErrDuplicate. The check and the record of the Digest are
	// part of the transaction that stores the message, so a message whose
	// commit succeeded is a duplicate on its next arrival even if the
	// process died before answering. A Digest older than the window no
	// longer matches (the message is recorded anew and its Digest
	// remembered from then on), and the engine deletes such Digests as it
	// goes, so what it keeps for deduplication is bounded by the messages
	// received within one window. An engine that looks Digests up in
	// memory may bound them further, by a number it documents, forgetting
	// the oldest first (the bbolt engine: boltstore.Options.DigestIndexSize).
	//
	// Quota: when m.RawQuota is positive and Stats.RawBytes plus len(m.Raw)
	// would exceed it, Record stores nothing and returns an error wrapping
	// ErrQuota (a duplicate is not refused: it stores no bytes).
	Record(ctx context.Context, m Message) (uint64, error)
}

// Reader is what the HTTP API needs.
type Reader interface {
	Suppression(ctx context.Context, addr string) (Suppression, error) // ErrNotFound if not suppressed
	// Check answers for a whole send list at once: the result has one
	// entry per input address, in order, nil where it is not suppressed.
	Check(ctx context.Context, addrs []string) ([]*Suppression, error)
	Recipient(ctx context.Context, addr string) (Recipient, []Event, error) // ErrNotFound if unknown
	RawMessage(ctx context.Context, id uint64) ([]byte, error)              // decompressed; ErrNotFound
	Ping(ctx context.Context) error
}

// Admin is what the admin and integration endpoints of the API need
// besides Reader: changing the suppression list on someone's behalf,
// listing it, the audit trail and its feed, and the counters.
type Admin interface {
	SuppressAs(ctx context.Context, actor string, m ManualSuppression) (Suppression, bool, error)
	SuppressMany(ctx context.Context, actor string, list []ManualSuppression) ([]SuppressResult, error)
	LiftAs(ctx context.Context, actor, addr, note string) (*Suppression, error)
	ListSuppressions(ctx context.Context, f SuppressionFilter, cursor string, limit int) ([]ListedSuppression, string, error)
	// QuerySuppressions is the list for people paging by number: the
	// suppressions q's filter selects, ordered by q.Sort (since, address,
	// reason or detail; details compare by their bytes, the first 256 of
	// them), ties by address, all of it reversed when q.Desc; q.Limit of
	// them from q.Offset on, and how many match in all. An engine keeps
	// an index per order (as SQL would: ORDER BY col, address ... OFFSET
	// ... LIMIT, with an index on (col, address)), so that a page never
	// costs reading and sorting the whole list.
	QuerySuppressions(ctx context.Context, q SuppressionQuery) (page []ListedSuppression, total int, err error)
	Suppressions(ctx context.Context, after string, limit int) ([]Suppression, error) // address order, for exports
	// History pages through one address's events, newest first: those
	// with a Seq below before (0: from the latest), at most limit (at most
	// MaxHistory), and the before of the next page (0 after the last).
	// Event.Seq only grows, so pages neither repeat nor skip an event
	// recorded meanwhile; an unknown address has no events (no error).
	History(ctx context.Context, addr string, before uint64, limit int) (events []Event, next uint64, err error)
	Audit(ctx context.Context, f AuditFilter, before uint64, limit int) ([]AuditEntry, uint64, error)
	AuditAfter(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)
	// AuditChanged returns a channel closed once entries are appended
	// after the call, by any writer of the store (every process sharing
	// it); it may also close spuriously. Audit entries are numbered in the
	// order they become visible, one apart: a reader of AuditAfter that
	// keeps the last number it saw never skips an entry.
	AuditChanged() <-chan struct{}
	Stats(ctx context.Context) (Stats, error)
	Activity(ctx context.Context, opts ActivityOptions) (Activity, error)
	BulkLifter
}

// Store is everything an engine provides: what the server needs
// (Writer, Reader, Admin) and what the offline tools need besides.
type Store interface {
	Writer
	Reader
	Admin
	Pruner
	Copier
	// Messages lists recorded messages in id order, after id after. A
	// message whose raw bytes were pruned (see Retention) comes with Raw
	// nil and RawPruned set.
	Messages(ctx context.Context, after uint64, limit int) ([]StoredMessage, error)
	// Rebuild replays every message through reobserve and the policy; a
	// message whose raw bytes were pruned is replayed with its stored
	// observations, without reobserve, and counted in RebuildStats.NotReread.
	Rebuild(ctx context.Context, reobserve func(m StoredMessage) ([]Observation, error), opts RebuildOptions) (RebuildStats, error)
	Close() error
}

// Namer is implemented by every engine: Engine names it ("bbolt",
// "postgres") for /healthz and the logs.
type Namer interface {
	Engine() string
}

// MaxReasonLen and MaxDetailLen bound a suppression's Reason and Detail, in
// bytes; engines cut longer ones with Clip.
const (
	MaxReasonLen = 255
	MaxDetailLen = 512
)

// Clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Domain returns the domain of a normalised address.
func Domain(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }
