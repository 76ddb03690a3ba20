package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// failureLimiter limits failed sign-in attempts per client: a token
// bucket of failureBurst attempts, refilled one every failureEvery, so a
// client may get its token wrong a few times in a row but cannot guess
// faster than about failureBurst a minute. A client is an IPv4 address
// or an IPv6 /64 (one machine's share of addresses).
type failureLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	clients map[netip.Prefix]*failureBucket
}

type failureBucket struct {
	tokens float64
	at     time.Time // when tokens was counted
}

const (
	failureBurst = 10
	failureEvery = 6 * time.Second
	// maxFailingClients bounds the table: past it the client that
	// failed longest ago is forgotten.
	maxFailingClients = 10000
)

func newFailureLimiter(now func() time.Time) *failureLimiter {
	return &failureLimiter{now: now, clients: make(map[netip.Prefix]*failureBucket)}
}

// refill returns c's bucket as of now, nil if c has a full one.
func (l *failureLimiter) refill(c netip.Prefix, now time.Time) *failureBucket {
	b := l.clients[c]
	if b == nil {
		return nil
	}
	b.tokens += float64(now.Sub(b.at)) / float64(failureEvery)
	b.at = now
	if b.tokens >= failureBurst {
		delete(l.clients, c)
		return nil
	}
	return b
}

// blocked reports whether c has no attempt left, and when it will have one.
func (l *failureLimiter) blocked(c netip.Prefix) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(c, l.now())
	if b == nil || b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(failureEvery)), true
}

// failed takes one attempt from c.
func (l *failureLimiter) failed(c netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.refill(c, now)
	if b == nil {
		if len(l.clients) >= maxFailingClients {
			l.forgetOldest()
		}
		b = &failureBucket{tokens: failureBurst, at: now}
		l.clients[c] = b
	}
	b.tokens = max(b.tokens-1, 0)
}

func (l *failureLimiter) forgetOldest() {
	var oldest netip.Prefix
	var at time.Time
	for c, b := range l.clients {
		if at.IsZero() || b.at.Before(at) {
			oldest, at = c, b.at
		}
	}
	delete(l.clients, oldest)
}

// client is who sent r, for the limiter: its peer's address, or when the
// peer is a trusted proxy, the last address in X-Forwarded-For that is
// not a trusted proxy itself (the one the proxies saw).
func (a *Auth) client(r *http.Request) netip.Prefix {
	return clientPrefix(ClientAddr(r, a.trusted))
}

// ClientAddr is the address of r's client: its peer's, or when the peer
// is one of trusted, the nearest address in X-Forwarded-For that is not
// (each proxy appends the address it got the request from).
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := remoteAddr(r)
	if !inPrefixes(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !inPrefixes(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func inPrefixes(a netip.Addr, list []netip.Prefix) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientPrefix is a's IPv4 address, or the /64 of an IPv6 one.
func clientPrefix(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}
