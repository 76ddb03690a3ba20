package api

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Health follows the store's writes on the ingestion path, so that
// /healthz can say when the store reads but no longer writes (a full
// disk, a read-only file system): every bounce then gets 451 and is
// retried by its sender, and a load balancer or monitor must see it.
// The state is that of the latest write: a failed one marks the store
// degraded, the next one that commits clears it.
type Health struct {
	mu     sync.Mutex
	since  time.Time // of the first failure in a row; zero when healthy
	reason string
	now    func() time.Time
}

// NewHealth returns a Health that reports the store healthy until a write
// through Writer fails.
func NewHealth() *Health { return &Health{now: time.Now} }

// Writer returns w, its Record outcomes observed by h.
func (h *Health) Writer(w store.Writer) store.Writer { return healthWriter{w, h} }

type healthWriter struct {
	store.Writer
	h *Health
}

func (w healthWriter) Record(ctx context.Context, m store.Message) (uint64, error) {
	id, err := w.Writer.Record(ctx, m)
	w.h.Observe(err)
	return id, err
}

// Observe records the outcome of one write. A cancelled context or a
// rebuild in progress says nothing of the storage, and is ignored.
func (h *Health) Observe(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrRebuilding) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.since, h.reason = time.Time{}, ""
		return
	}
	if h.since.IsZero() {
		h.since = h.now()
	}
	h.reason = writeFailure(err)
}

// Degraded says since when writes fail and why, in words that name the
// kind of failure without the internal error text (/healthz is public).
func (h *Health) Degraded() (reason string, since time.Time, degraded bool) {
	if h == nil {
		return "", time.Time{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason, h.since, !h.since.IsZero()
}

// writeFailure names the kind of a failed write.
func writeFailure(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "disk full"
	case errors.Is(err, syscall.EDQUOT):
		return "disk quota exceeded"
	case errors.Is(err, syscall.EFBIG):
		return "file size limit reached"
	case errors.Is(err, syscall.EROFS):
		return "file system is read-only"
	case errors.Is(err, syscall.EIO):
		return "I/O error"
	}
	return "writes failing"
}
