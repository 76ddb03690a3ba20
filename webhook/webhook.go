// Package webhook tells other systems of every change of the suppression
// list. It follows the store's audit trail in the background and sends
// each entry to each configured endpoint in its format: a signed JSON POST
// (see SignatureHeader), a bounce in listmonk, a Do Not Contact mark in
// Mautic, an unreachable contact in Keila (format.go and a file per
// system). SMTP ingestion never
// waits for it: the store commits, and this package reads the trail
// afterwards, on its own goroutines.
//
// Delivery is at least once and in trail order per endpoint. Each
// attempt's outcome (Classify, or the endpoint's own) is one of three: the
// endpoint took the entry; it failed in a way that may pass (a network
// error, a timeout, a 5xx, 408 or 429, a redirect, which is never
// followed), and gets the same entry again with exponential backoff and
// nothing after it until it succeeds; or it refused the entry for good (a
// 4xx), which goes on a dead-letter list and delivery goes on. The other
// endpoints go on meanwhile. The sequence number of the last entry each
// endpoint dealt with is kept in a state file under the endpoint's name,
// so a restart resumes where it stopped and a receiver may see an entry
// twice (the X-Bouncesink-Delivery header, the entry's seq, tells it so).
// With a store that several bouncesink processes share (Options.Leases),
// the position lives in the store instead, and each endpoint is served by
// one process at a time: the others wait for its lease and take over, at
// the saved position, when that process stops or dies. Dead letters stay
// in the file of the process that gave them up.
//
// Nothing here knows a format's requests but the format's own file: the
// outcomes, the retries and the dead letters are the same for all.
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// Feed is the audit trail as the store serves it (store.Admin).
type Feed interface {
	// AuditAfter returns the entries after seq, oldest first.
	AuditAfter(ctx context.Context, seq uint64, limit int) ([]store.AuditEntry, error)
	// AuditChanged returns a channel closed at the next append.
	AuditChanged() <-chan struct{}
}

// Endpoint is one receiver.
type Endpoint struct {
	// Name keys the endpoint's position in the trail and its dead
	// letters, and names it in logs and metrics; when empty, the URL
	// without user information, query or fragment (so that changing a
	// secret there does not replay the trail).
	Name   string
	URL    string
	Format Format // FormatBouncesink when empty
	// Secret keys the HMAC of SignatureHeader; with none, requests are
	// sent unsigned.
	Secret []byte
	// Authorization, when set, is sent as the Authorization header:
	// listmonk's "token API_USER:API_TOKEN", Mautic's "Basic ..." (or
	// OAuth2 instead), Keila's "Bearer API_KEY".
	Authorization string
	// OAuth2, when set, gets a bearer token with OAuth2's client
	// credentials grant (RFC 6749 s4.4) and sends it as the Authorization
	// header instead (FormatMautic).
	OAuth2  *OAuth2
	Timeout time.Duration // per request; DefaultTimeout when zero
	// Classify decides what an attempt means; nil means Classify.
	Classify func(Attempt) Outcome
}

// Defaults for the zero values of Options and Endpoint.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	pageSize          = 100
)

// Options configure a Dispatcher.
type Options struct {
	Feed      Feed
	Endpoints []Endpoint
	// CursorPath is the file keeping each endpoint's position in the trail
	// (created when missing). An endpoint it does not know yet starts at
	// the beginning of the trail, so it learns of every suppression.
	// Positions an older version kept under the endpoint's URL move to
	// its name.
	CursorPath string
	// DeadLetterPath is the file of the dead letters; empty means
	// CursorPath with ".dead.json" for its ".json".
	DeadLetterPath string
	// Leases, when set (a store shared by several bouncesink processes),
	// keeps each endpoint's position in the store instead of CursorPath,
	// under the endpoint's name, and lets one process at a time serve an
	// endpoint: the others wait, and take it over, at the saved position,
	// when that one stops or dies.
	Leases store.EndpointLeaser
	// Observer, when set, is told of each attempt (metrics).
	Observer Observer
	// The first retry waits MinBackoff, each next one twice as long, up to
	// MaxBackoff (each wait varies by up to a fifth, so that endpoints
	// failing together do not retry in step).
	MinBackoff, MaxBackoff time.Duration
	// Client sends the requests; nil means a client with no overall
	// timeout (each request has its own). It never follows a redirect,
	// whatever the client given says.
	Client *http.Client
	Now    func() time.Time
	Logger *slog.Logger
}

// Observer is told of each attempt, for metrics. Its methods must not block.
type Observer interface {
	Delivered(endpoint string)
	Failed(endpoint string) // an attempt failed and will be retried
	DeadLettered(endpoint string)
}

// Dispatcher sends the audit trail to the endpoints.
type Dispatcher struct {
	opts  Options
	state *state
	log   *slog.Logger
	live  map[string]*liveStatus // by endpoint name
	// formats speak each endpoint's format, by endpoint name.
	formats map[string]format
}

// liveStatus is what the dispatcher knows of an endpoint since it started.
type liveStatus struct {
	mu          sync.Mutex
	position    uint64 // the last entry dealt with, as far as this process knows
	delivered   int
	failed      int // attempts
	lastError   string
	lastErrorAt time.Time
}

// New checks the endpoints and reads the state files.
func New(opts Options) (*Dispatcher, error) {
	if opts.Feed == nil {
		return nil, errors.New("webhook: no feed")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	names, urls := map[string]bool{}, map[string]string{}
	opts.Endpoints = slices.Clone(opts.Endpoints)
	for i := range opts.Endpoints {
		e := &opts.Endpoints[i]
		if e.Format == "" {
			e.Format = FormatBouncesink
		}
		if e.Name == "" {
			e.Name = DefaultName(e.URL)
		}
		u, err := url.Parse(e.URL)
		switch {
		case e.URL == "":
			return nil, fmt.Errorf("webhook %d: no url", i+1)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return nil, fmt.Errorf("webhook %s: url: want http:// or https:// and a host", RedactURL(e.URL))
		case names[e.Name]:
			return nil, fmt.Errorf("webhook %s: name used twice; give each endpoint a name of its own", e.Name)
		}
		if _, err := newFormat(*e, nil); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", e.Name, err)
		}
		names[e.Name], urls[e.Name] = true, e.URL
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			opts.Logger.Warn("webhook: plain http to a host that is not loopback: the body, its signature and any credentials travel unencrypted; use https",
				slog.String("webhook", e.Name), slog.String("url", RedactURL(e.URL)))
		}
	}
	if opts.DeadLetterPath == "" {
		opts.DeadLetterPath = strings.TrimSuffix(opts.CursorPath, ".json") + ".dead.json"
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	// A redirect would re-send the body, its signature and the
	// Authorization header to wherever the endpoint points.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	opts.Client = client
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := loadState(opts.CursorPath, opts.DeadLetterPath, urls)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{opts: opts, state: st, log: opts.Logger, live: map[string]*liveStatus{}, formats: map[string]format{}}
	for _, e := range opts.Endpoints {
		d.live[e.Name] = &liveStatus{}
		d.formats[e.Name], _ = newFormat(e, d) // checked above
	}
	return d, nil
}

// loopbackHost reports whether host names this machine.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Run delivers until ctx is done, one goroutine per endpoint, and returns
// once they have all stopped.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range d.opts.Endpoints {
		wg.Go(func() { d.follow(ctx, e) })
	}
	wg.Wait()
}

// follow serves e: from the state file, or under a lease when the store
// is shared.
func (d *Dispatcher) follow(ctx context.Context, e Endpoint) {
	log := d.log.With(slog.String("webhook", e.Name))
	if d.opts.Leases == nil {
		d.followFrom(ctx, log, e, d.state.position(e.Name), func(seq uint64) error { return d.state.advance(e.Name, seq) })
		return
	}
	for attempt := 1; ctx.Err() == nil; attempt++ {
		lease, cursor, err := d.lease(ctx, e)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("webhook: taking the endpoint's lease failed", slog.Any("err", err))
				d.sleep(ctx, attempt)
			}
			continue
		}
		attempt = 0
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-lease.Lost():
				log.Warn("webhook: lease of the endpoint lost; another instance may serve it now")
				cancel()
			case <-lctx.Done():
			}
		}()
		d.followFrom(lctx, log, e, cursor, func(seq uint64) error { return lease.SetCursor(lctx, seq) })
		cancel()
		lease.Release()
	}
}

// lease takes e's lease and reads its position. A position an older
// version kept in the store under e's URL is moved to e's name.
func (d *Dispatcher) lease(ctx context.Context, e Endpoint) (store.EndpointLease, uint64, error) {
	lease, err := d.opts.Leases.LeaseEndpoint(ctx, e.Name)
	if err != nil {
		return nil, 0, err
	}
	cursor, err := lease.Cursor(ctx)
	if err == nil && cursor == 0 && e.URL != e.Name {
		var old store.EndpointLease
		if old, err = d.opts.Leases.LeaseEndpoint(ctx, e.URL); err == nil {
			if cursor, err = old.Cursor(ctx); err == nil && cursor > 0 {
				err = lease.SetCursor(ctx, cursor)
			}
			old.Release()
		}
	}
	if err != nil {
		lease.Release()
		return nil, 0, fmt.Errorf("reading the endpoint's position: %w", err)
	}
	return lease, cursor, nil
}

// followFrom sends e every entry after cursor, waiting for new ones, and
// saves its position with save after each.
func (d *Dispatcher) followFrom(ctx context.Context, log *slog.Logger, e Endpoint, cursor uint64, save func(uint64) error) {
	log.Info("webhook following the audit trail", slog.Uint64("after", cursor), slog.String("format", string(e.Format)),
		slog.String("url", RedactURL(e.URL)))
	live := d.live[e.Name]
	setPosition := func(seq uint64) {
		live.mu.Lock()
		live.position = seq
		live.mu.Unlock()
	}
	setPosition(cursor)
	failures := 0 // consecutive failed reads of the trail
	for ctx.Err() == nil {
		changed := d.opts.Feed.AuditChanged() // before the read: no entry slips between
		entries, err := d.opts.Feed.AuditAfter(ctx, cursor, pageSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			log.Error("webhook: reading the audit trail failed", slog.Any("err", err))
			d.sleep(ctx, failures)
			continue
		}
		failures = 0
		if len(entries) == 0 {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		for _, entry := range entries {
			if !d.deliver(ctx, log, e, entry) {
				return // ctx is done
			}
			cursor = entry.Seq
			setPosition(cursor)
			if err := save(cursor); err != nil {
				// Delivery goes on; a restart will send again from the
				// last position saved.
				log.Error("webhook: saving the position failed", slog.Any("err", err))
			}
		}
	}
}

// deliver sends entry to e until e takes it or rejects it for good;
// false means ctx ended first.
func (d *Dispatcher) deliver(ctx context.Context, log *slog.Logger, e Endpoint, entry store.AuditEntry) bool {
	f := d.formats[e.Name]
	if !f.wants(entry) {
		return true // nothing to say in this format
	}
	classify := e.Classify
	if classify == nil {
		classify = f.classify
	}
	live := d.live[e.Name]
	for attempt := 1; ; attempt++ {
		a := f.attempt(ctx, &caller{d: d, e: e, entry: entry}, entry)
		if ctx.Err() != nil {
			return false
		}
		switch classify(a) {
		case Delivered:
			log.Debug("webhook delivered", slog.Uint64("seq", entry.Seq), slog.Int("attempt", attempt), slog.String("done", a.Done))
			live.mu.Lock()
			live.delivered++
			live.mu.Unlock()
			if d.opts.Observer != nil {
				d.opts.Observer.Delivered(e.Name)
			}
			return true
		case Reject:
			d.deadLetter(log, e, entry, a, attempt)
			return true
		}
		live.mu.Lock()
		live.failed++
		live.lastError, live.lastErrorAt = a.String(), d.opts.Now()
		live.mu.Unlock()
		if d.opts.Observer != nil {
			d.opts.Observer.Failed(e.Name)
		}
		attrs := []any{slog.Uint64("seq", entry.Seq), slog.String("address", entry.Address), slog.Int("attempt", attempt)}
		if a.Location != "" {
			attrs = append(attrs, slog.Int("status", a.Status), slog.String("location", a.Location))
		}
		log.Warn("webhook delivery failed; will retry", append(attrs, slog.String("err", a.String()))...)
		if !d.sleep(ctx, attempt) {
			return false
		}
	}
}

// deadLetter gives entry up for e, which refused it for good.
func (d *Dispatcher) deadLetter(log *slog.Logger, e Endpoint, entry store.AuditEntry, a Attempt, attempts int) {
	dl := DeadLetter{Endpoint: e.Name, Seq: entry.Seq, Address: entry.Address, Event: eventName(entry.Action),
		Time: d.opts.Now().UTC(), Status: a.Status, Error: a.String(), Attempts: attempts}
	log.Error("webhook: the endpoint refused an entry for good; it is on the dead-letter list and delivery goes on",
		slog.Uint64("seq", entry.Seq), slog.String("address", entry.Address), slog.String("err", dl.Error))
	live := d.live[e.Name]
	live.mu.Lock()
	live.lastError, live.lastErrorAt = dl.Error, dl.Time
	live.mu.Unlock()
	if d.opts.Observer != nil {
		d.opts.Observer.DeadLettered(e.Name)
	}
	if err := d.state.deadLetter(dl); err != nil {
		log.Error("webhook: saving the dead letter failed", slog.Any("err", err))
	}
}

// caller makes the HTTP requests of one attempt at one entry.
type caller struct {
	d     *Dispatcher
	e     Endpoint
	entry store.AuditEntry
}

// call is one HTTP request of an attempt.
type call struct {
	step        string // what the request is for, in errors: "find the contact"
	method, url string
	body        []byte
	contentType string // "application/json" when empty
	// authorization replaces the endpoint's Authorization when set.
	authorization string
	// answer says the format reads the answer: a 2xx answer larger than
	// maxAnswer is then a Problem, not a cut-off answer read as a whole.
	answer bool
}

// maxAnswer bounds the body of an answer a format reads (a search result).
const maxAnswer = 1 << 20

// do sends c with the endpoint's headers and returns what came back: the
// attempt, and the whole body (up to maxAnswer) when the status is 2xx.
func (c *caller) do(ctx context.Context, r call) (Attempt, []byte) {
	e := c.e
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return Attempt{Step: r.step, Err: redactErr(err)}, nil
	}
	if r.body != nil {
		req.Header.Set("Content-Type", cmp.Or(r.contentType, "application/json"))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bouncesink-webhook/1")
	req.Header.Set("X-Bouncesink-Delivery", strconv.FormatUint(c.entry.Seq, 10))
	req.Header.Set("X-Bouncesink-Event", eventName(c.entry.Action))
	if len(e.Secret) > 0 && r.body != nil {
		req.Header.Set(SignatureHeader, Sign(e.Secret, c.d.opts.Now(), r.body))
	}
	if authz := cmp.Or(r.authorization, e.Authorization); authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.d.opts.Client.Do(req)
	if err != nil {
		return Attempt{Step: r.step, Err: redactErr(err)}, nil
	}
	defer resp.Body.Close()
	whole, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	a := Attempt{Step: r.step, Status: resp.StatusCode, Body: bytes.TrimSpace(whole[:min(len(whole), 512)])}
	if len(whole) > maxAnswer {
		whole = whole[:maxAnswer]
		if r.answer && resp.StatusCode/100 == 2 {
			a.Problem = fmt.Sprintf("the answer is larger than %d bytes; not read", maxAnswer)
			return a, nil
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
		a.Location = RedactURL(loc)
	}
	if err != nil && resp.StatusCode/100 == 2 {
		// The answer was cut off: what it said is not known.
		return Attempt{Step: r.step, Err: fmt.Errorf("reading the answer: %w", redactErr(err))}, nil
	}
	return a, whole
}

// sleep waits the backoff before retry number attempt; false if ctx ended.
func (d *Dispatcher) sleep(ctx context.Context, attempt int) bool {
	wait := d.opts.MinBackoff
	for i := 1; i < attempt && wait < d.opts.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, d.opts.MaxBackoff)
	wait += time.Duration(rand.Int64N(int64(wait)/5 + 1)) // jitter
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
