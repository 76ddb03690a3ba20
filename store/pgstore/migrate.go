package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys, all in one namespace (the first key of the two-key
// form) so that they do not collide with other applications' locks.
const (
	lockSpace   = 0x626f756e // "boun"
	lockMigrate = 1          // schema migrations
	lockWriters = 2          // shared by every write, exclusive for Rebuild
	lockCompact = 3          // one compaction of the counters at a time
	// Addresses and webhook endpoints use their own spaces, keyed by hash.
	lockAddrSpace    = 0x61646472 // "addr"
	lockDigestSpace  = 0x64696765 // "dige"
	lockWebhookSpace = 0x686f6f6b // "hook"
)

// migrations are applied in order, each once, each in its own
// transaction; schema_migrations records which ones ran. Never edit a
// migration that has shipped: add one.
var migrations = []string{
	// 1: the initial schema. Times are Unix nanoseconds (bigint), as the
	// bbolt engine keeps them, so that both engines return the same
	// instants. Records the store reads whole are JSON in bytea: text
	// columns could not hold the NULs a bounce may carry.
	`
CREATE TABLE messages (
	id       bigint PRIMARY KEY,
	received bigint NOT NULL,
	head     bytea  NOT NULL, -- JSON: envelope, raw size, observations
	raw      bytea  NOT NULL  -- 1 byte encoding, then the bytes (S2 or stored)
);
CREATE SEQUENCE message_ids;

CREATE TABLE recipients (
	address     text COLLATE "C" PRIMARY KEY,
	state       bytea  NOT NULL, -- JSON store.Recipient, without its suppression
	last_class  text   NOT NULL,
	last_reason text   NOT NULL,
	last_status text   NOT NULL,
	last_bounce bigint NOT NULL
);

CREATE TABLE events (
	seq        bigserial PRIMARY KEY,
	address    text COLLATE "C" NOT NULL,
	time       bigint NOT NULL,
	message_id bigint NOT NULL,
	class      text   NOT NULL,
	obs        bytea  NOT NULL -- JSON observation
);
CREATE INDEX events_address ON events (address, seq);
CREATE INDEX events_admin ON events (time, seq) WHERE class = 'admin';

CREATE TABLE suppressions (
	address text COLLATE "C" PRIMARY KEY,
	reason  text   NOT NULL,
	detail  text   NOT NULL,
	since   bigint NOT NULL
);
CREATE INDEX suppressions_since ON suppressions (since, address);

-- The audit trail. audit_head.seq is the last number handed out; see the
-- package comment for why it is a row and not a sequence.
CREATE TABLE audit (
	seq     bigint PRIMARY KEY,
	time    bigint NOT NULL,
	address text COLLATE "C" NOT NULL,
	actor   text   NOT NULL,
	entry   bytea  NOT NULL -- JSON: action, before, after, note, message, verdict
);
CREATE INDEX audit_address ON audit (address, seq);
CREATE TABLE audit_head (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq bigint  NOT NULL
);
INSERT INTO audit_head VALUES (true, 0);

-- Counters are added as rows, one per transaction and key, and summed
-- when read; a background compaction merges them. Writers thus never wait
-- on one another for a hot counter row.
CREATE TABLE counters (
	gran   "char" NOT NULL, -- 'd' day, 'h' hour
	period int    NOT NULL, -- days or hours since 1970
	kind   "char" NOT NULL, -- 'c' class | 'r' class, reason | 'm' domain, class
	a      text   NOT NULL,
	b      text   NOT NULL,
	n      bigint NOT NULL
);
CREATE INDEX counters_period ON counters (gran, period);
CREATE TABLE sizes (
	name text   NOT NULL, -- messages, recipients, events, suppressed/REASON
	n    bigint NOT NULL
);

-- Each webhook endpoint's position in the audit trail.
CREATE TABLE webhook_cursors (
	endpoint text   PRIMARY KEY,
	seq      bigint NOT NULL
);
`,
	// 2: the retention (prune.go). A message whose raw bytes were pruned
	// keeps its row with raw NULL; the indexes find what expired without
	// a scan.
	`
ALTER TABLE messages ALTER COLUMN raw DROP NOT NULL;
CREATE INDEX messages_raw_kept ON messages (received) WHERE raw IS NOT NULL;
CREATE INDEX events_time ON events (time) WHERE class <> 'admin';
`,
	// 3: the orders of QuerySuppressions besides since and address, in
	// byte order as the bbolt engine's keys.
	`
CREATE INDEX suppressions_reason ON suppressions ((reason COLLATE "C"), address);
CREATE INDEX suppressions_detail ON suppressions ((detail COLLATE "C"), address);
`,
	// 4: deduplication and the raw quota (Writer.Record). Each message
	// keeps its raw size (as received, for Stats.RawBytes) and how often it
	// was received again; digests remembers the Digests of one window.
	`
ALTER TABLE messages ADD COLUMN raw_size bigint NOT NULL DEFAULT 0,
	ADD COLUMN duplicates int NOT NULL DEFAULT 0,
	ADD COLUMN last_duplicate bigint NOT NULL DEFAULT 0;
UPDATE messages SET raw_size = (convert_from(head, 'UTF8')::json->>'raw_size')::bigint;
INSERT INTO sizes (name, n) SELECT 'raw_bytes', coalesce(sum(raw_size), 0) FROM messages WHERE raw IS NOT NULL;
CREATE TABLE digests (
	digest     bytea  PRIMARY KEY,
	received   bigint NOT NULL,
	message_id bigint NOT NULL
);
CREATE INDEX digests_received ON digests (received);
`,
	// 5: the decoder and rule of the verdict that made a suppression
	// (store.Suppression), for the bulk lift's filter.
	`
ALTER TABLE suppressions ADD COLUMN decoder text NOT NULL DEFAULT '', ADD COLUMN rule text NOT NULL DEFAULT '';
`,
	// 6: a message's raw bytes come compressed (S2) or stored because
	// they did not compress: the server's own compression of them (pglz)
	// only spent CPU, and a row over 2 KB went to the TOAST table, a
	// second heap and index insert per message. Rows now stay whole up to
	// a page, and raw is never compressed again (both were about a tenth
	// of the database's CPU in an ingest run, measured with perf).
	`
ALTER TABLE messages ALTER COLUMN raw SET STORAGE EXTERNAL;
ALTER TABLE messages SET (toast_tuple_target = 8160);
`,
}

// migrate brings the schema up to date under an advisory lock, so that
// instances starting at once apply each migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", lockSpace, lockMigrate); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1, $2)", lockSpace, lockMigrate)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("schema version %d, this build knows up to %d", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}
