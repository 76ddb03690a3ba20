package pgstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Metrics counts the engine's queries and commits for /metrics: a
// latency histogram of every statement (a batch counts as one), the
// group commits and the messages they carried, and the retries of
// transactions the database aborted.
type Metrics struct {
	mu      sync.Mutex
	buckets []float64 // upper bounds, seconds
	counts  []uint64  // per bucket, not cumulative; the last is +Inf
	sum     float64
	n       uint64

	commits, committed atomic.Uint64
	retries            atomic.Uint64
}

// QueryBuckets are the upper bounds of the query latency histogram.
var QueryBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

func newMetrics() *Metrics {
	return &Metrics{buckets: QueryBuckets, counts: make([]uint64, len(QueryBuckets)+1)}
}

func (m *Metrics) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(m.buckets) && s > m.buckets[i] {
		i++
	}
	m.mu.Lock()
	m.counts[i]++
	m.sum += s
	m.n++
	m.mu.Unlock()
}

func (m *Metrics) observeCommit(d time.Duration, messages int) {
	m.commits.Add(1)
	m.committed.Add(uint64(messages))
}

// Queries returns the histogram: cumulative counts per upper bound of
// QueryBuckets, the sum of the latencies in seconds and the count.
func (m *Metrics) Queries() (cumulative map[float64]uint64, sum float64, count uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cumulative = make(map[float64]uint64, len(m.buckets))
	var c uint64
	for i, b := range m.buckets {
		c += m.counts[i]
		cumulative[b] = c
	}
	return cumulative, m.sum, m.n
}

// Commits returns the number of Record transactions committed or tried,
// the messages they carried, and the transactions retried after a
// serialization failure or a deadlock.
func (m *Metrics) Commits() (commits, messages, retries uint64) {
	return m.commits.Load(), m.committed.Load(), m.retries.Load()
}

type traceKey struct{}

// TraceQueryStart and TraceQueryEnd make Metrics a pgx.QueryTracer.
func (m *Metrics) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, time.Now())
}

func (m *Metrics) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if start, ok := ctx.Value(traceKey{}).(time.Time); ok {
		m.observe(time.Since(start))
	}
}

// TraceBatchStart, TraceBatchQuery and TraceBatchEnd make it a
// pgx.BatchTracer: a batch is one round trip, timed as one.
func (m *Metrics) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, time.Now())
}

func (m *Metrics) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (m *Metrics) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if start, ok := ctx.Value(traceKey{}).(time.Time); ok {
		m.observe(time.Since(start))
	}
}
