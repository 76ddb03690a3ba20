package store

// Chunk sizes of a Rebuild when RebuildOptions leaves them zero: a write
// transaction per few hundred messages keeps each commit small whatever
// the size of the store, and the byte bound keeps a run of large messages
// from filling memory.
const (
	DefaultRebuildChunk      = 500
	DefaultRebuildChunkBytes = 32 << 20
)

// MaxRebuildChanges is the most suppression changes RebuildStats lists.
const MaxRebuildChanges = 1000

// RebuildOptions configure Rebuild.
type RebuildOptions struct {
	// Progress, if not nil, is called with the number of messages replayed
	// so far and the total: once before the first and after each chunk.
	Progress func(done, total int)
	// ChunkMessages and ChunkBytes bound the messages replayed per write
	// transaction (stored, compressed bytes); zero means the defaults.
	ChunkMessages int
	ChunkBytes    int
}

// RebuildStats reports what a Rebuild did.
type RebuildStats struct {
	Messages int `json:"messages"` // replayed
	// NotReread counts the messages replayed with their stored
	// observations because their raw bytes were pruned (see Retention).
	NotReread        int `json:"not_reread"`
	Observations     int `json:"observations"`      // the messages carry now
	AdminActions     int `json:"admin_actions"`     // Suppress and Lift events kept and replayed
	Recipients       int `json:"recipients"`        // addresses with a record after
	SuppressedBefore int `json:"suppressed_before"` // addresses
	SuppressedAfter  int `json:"suppressed_after"`
	// Addresses newly suppressed, no longer suppressed, and suppressed for
	// another Reason than before; Changes lists the first
	// MaxRebuildChanges of them in address order.
	Added   int                 `json:"added"`
	Removed int                 `json:"removed"`
	Changed int                 `json:"changed"`
	Changes []SuppressionChange `json:"changes"`
}

// SuppressionChange is an address whose suppression a Rebuild changed;
// Before or After is nil where it was or is no longer suppressed.
type SuppressionChange struct {
	Address string       `json:"address"`
	Before  *Suppression `json:"before"`
	After   *Suppression `json:"after"`
}
