package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// pruner applies the [retention] settings while the server runs: a pass
// a minute after start-up, then one every interval. Each pass works in
// small transactions (store.Pruner), so SMTP sessions committing
// meanwhile wait for at most one of them.
type pruner struct {
	db     store.Pruner
	r      store.Retention
	every  time.Duration
	now    func() time.Time
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// firstPruneAfter leaves start-up (and a burst of queued bounces arriving
// right after it) alone.
const firstPruneAfter = time.Minute

func newPruner(db store.Pruner, cfg RetentionConfig, now func() time.Time, log *slog.Logger) *pruner {
	if now == nil {
		now = time.Now
	}
	return &pruner{db: db, r: cfg.retention(), every: cfg.PruneEvery.Duration, now: now, log: log}
}

func (p *pruner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTimer(firstPruneAfter)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			p.pass(ctx)
			t.Reset(p.every)
		}
	}()
}

// pass prunes once and logs what it did.
func (p *pruner) pass(ctx context.Context) {
	start := time.Now()
	st, err := p.db.Prune(ctx, p.r, p.now())
	attrs := []any{"raw_messages", st.RawMessages, "raw_bytes", st.RawBytes, "events", st.Events,
		"counters", st.Counters, "took", time.Since(start).Round(time.Millisecond)}
	switch {
	case err != nil && ctx.Err() == nil:
		p.log.Error("prune failed; the next pass tries again", append(attrs, "err", err, "next", p.every)...)
	case st != (store.PruneStats{}):
		p.log.Info("pruned what the retention expired", attrs...)
	}
}

// stop ends the pass under way, if any, and waits for it.
func (p *pruner) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}
