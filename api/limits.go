package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The heavy requests (POST /v1/check, POST /v1/import, GET /v1/export,
// GET /v1/backup) each hold up to tens of MiB and seconds of CPU: a few of
// them at once would exhaust a small server. They take turns through a
// gate; one that finds every turn taken waits in a short queue, and is
// answered 503 with Retry-After when the queue is full or its wait is
// over.
//
// Checks have a gate of their own. A transfer lasts as long as its client
// takes to send or read it, which a slow link or a client that reads
// slowly on purpose makes hours; in a gate shared with checks, two such
// exports left every check, which mailing software makes before each send,
// waiting and then refused. Transfers hold little memory (a page or a
// chunk), so giving them their own turns costs little.
const (
	DefaultMaxHeavy  = 2
	DefaultHeavyWait = 30 * time.Second
	// maxHeavyQueue bounds the requests waiting for a turn: past it a
	// request is refused at once rather than held open.
	maxHeavyQueue = 64
)

type gate struct {
	slots chan struct{}
	queue chan struct{}
	wait  time.Duration
}

func newGate(n int, wait time.Duration) *gate {
	if n <= 0 {
		n = DefaultMaxHeavy
	}
	if wait <= 0 {
		wait = DefaultHeavyWait
	}
	return &gate{slots: make(chan struct{}, n), queue: make(chan struct{}, maxHeavyQueue), wait: wait}
}

// limit runs next when a turn is free, waiting for one up to g.wait.
func (g *gate) limit(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.slots <- struct{}{}:
		default:
			if !g.await(r) {
				w.Header().Set("Retry-After", strconv.Itoa(int(g.wait.Seconds())+1))
				writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(
					"too many large requests at once (at most %d run at a time); try again shortly", cap(g.slots)))
				return
			}
		}
		defer func() { <-g.slots }()
		next(w, r)
	}
}

// await queues r for a turn; false means it got none.
func (g *gate) await(r *http.Request) bool {
	select {
	case g.queue <- struct{}{}:
	default:
		return false // the queue is full
	}
	defer func() { <-g.queue }()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-r.Context().Done():
	}
	return false
}
