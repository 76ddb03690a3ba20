package smtpd

import (
	"sync"
	"time"
)

// byteRate limits the bytes of message data each client (an IPv4 address
// or an IPv6 /64, as for the connection caps) may send: a token bucket per
// client holding up to one hour's allowance and refilled at that rate. A
// transaction may start (MAIL) while the client's bucket is not empty; the
// bytes of every message read are then taken from it, so a client goes
// past its allowance by one message per connection it has open at the
// time (MaxConnectionsPerIP of them at most), a debt the bucket then
// refills. Loopback clients are exempt.
//
// Raw messages are kept, so without this anyone who can connect can fill
// the disk with 10 MiB messages from one address (issue 14); the store's
// total quota (max_raw_bytes) bounds the rest.
type byteRate struct {
	perHour float64

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// sweepAt is the number of clients past which charge drops the buckets
// that have refilled (a full bucket is the same as none).
const sweepAt = 4096

func newByteRate(perHour int64) *byteRate {
	if perHour <= 0 {
		return nil
	}
	return &byteRate{perHour: float64(perHour), clients: map[string]*bucket{}}
}

// refill returns client's bucket topped up to now; nil means a full one.
func (r *byteRate) refill(client string, now time.Time) *bucket {
	b := r.clients[client]
	if b == nil {
		return nil
	}
	b.tokens = min(r.perHour, b.tokens+now.Sub(b.at).Hours()*r.perHour)
	b.at = now
	return b
}

// allow reports whether client may start another message.
func (r *byteRate) allow(client string, now time.Time) bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.refill(client, now)
	return b == nil || b.tokens > 0
}

// charge takes n bytes from client's allowance.
func (r *byteRate) charge(client string, n int, now time.Time) {
	if r == nil || n <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.refill(client, now)
	if b == nil {
		if len(r.clients) >= sweepAt {
			r.sweep(now)
		}
		b = &bucket{tokens: r.perHour, at: now}
		r.clients[client] = b
	}
	b.tokens -= float64(n)
}

func (r *byteRate) sweep(now time.Time) {
	for c := range r.clients {
		if r.refill(c, now).tokens >= r.perHour {
			delete(r.clients, c)
		}
	}
}
