// Package webhook tells other systems of every change of the suppression
// list. It follows the store's audit trail in the background and sends
// each entry to each configured endpoint: a signed JSON POST (see
// SignatureHeader), or a listmonk blocklist request. SMTP ingestion never
// waits for it: the store commits, and this package reads the trail
// afterwards, on its own goroutines.
//
// Delivery is at least once and in trail order per endpoint: an endpoint
// that fails (a network error, a timeout or any status outside 2xx) gets
// the same entry again with exponential backoff, and nothing after it
// until it succeeds; the other endpoints go on. The sequence number of the
// last entry each endpoint took is kept in a cursor file, so a restart
// resumes where it stopped and a receiver may see an entry twice (the
// X-Bouncesink-Delivery header, the entry's seq, tells it so). With a
// store that several bouncesink processes share (Options.Leases), the
// cursor lives in the store instead, and each endpoint is served by one
// process at a time: the others wait for its lease and take over, at the
// saved cursor, when that process stops or dies.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
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
	URL    string
	Format Format // FormatBouncesink when empty
	// Secret keys the HMAC of SignatureHeader; with none, requests are
	// sent unsigned.
	Secret []byte
	// Authorization, when set, is sent as the Authorization header (for
	// listmonk: "token API_USER:API_TOKEN", or "Basic ..." before v4).
	Authorization string
	Timeout       time.Duration // per request; DefaultTimeout when zero
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
	CursorPath string
	// Leases, when set (a store shared by several bouncesink processes),
	// keeps each endpoint's cursor in the store instead of CursorPath, and
	// lets one process at a time serve an endpoint: the others wait, and
	// take it over, at the saved cursor, when that one stops or dies.
	Leases store.EndpointLeaser
	// The first retry waits MinBackoff, each next one twice as long, up to
	// MaxBackoff (each wait varies by up to a fifth, so that endpoints
	// failing together do not retry in step).
	MinBackoff, MaxBackoff time.Duration
	Client                 *http.Client // nil means a client with no overall timeout (each request has its own)
	Now                    func() time.Time
	Logger                 *slog.Logger
}

// Dispatcher sends the audit trail to the endpoints.
type Dispatcher struct {
	opts    Options
	cursors *cursors
	log     *slog.Logger
}

// New checks the endpoints and reads the cursor file.
func New(opts Options) (*Dispatcher, error) {
	if opts.Feed == nil {
		return nil, errors.New("webhook: no feed")
	}
	seen := map[string]bool{}
	opts.Endpoints = slices.Clone(opts.Endpoints)
	for i, e := range opts.Endpoints {
		if e.Format == "" {
			opts.Endpoints[i].Format = FormatBouncesink
			e.Format = FormatBouncesink
		}
		switch {
		case e.URL == "":
			return nil, fmt.Errorf("webhook %d: no url", i+1)
		case seen[e.URL]:
			return nil, fmt.Errorf("webhook %s: configured twice", e.URL)
		case e.Format != FormatBouncesink && e.Format != FormatListmonk:
			return nil, fmt.Errorf("webhook %s: format %q: want %q or %q", e.URL, e.Format, FormatBouncesink, FormatListmonk)
		}
		seen[e.URL] = true
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c, err := loadCursors(opts.CursorPath)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{opts: opts, cursors: c, log: opts.Logger}, nil
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

// follow serves e: from the cursor file, or under a lease when the
// store is shared.
func (d *Dispatcher) follow(ctx context.Context, e Endpoint) {
	if d.opts.Leases == nil {
		d.followFrom(ctx, e, d.cursors.get(e.URL), func(seq uint64) error { return d.cursors.set(e.URL, seq) })
		return
	}
	log := d.log.With(slog.String("webhook", e.URL))
	for attempt := 1; ctx.Err() == nil; attempt++ {
		lease, err := d.opts.Leases.LeaseEndpoint(ctx, e.URL)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("webhook: taking the endpoint's lease failed", slog.Any("err", err))
				d.sleep(ctx, attempt)
			}
			continue
		}
		cursor, err := lease.Cursor(ctx)
		if err != nil {
			lease.Release()
			log.Error("webhook: reading the endpoint's cursor failed", slog.Any("err", err))
			d.sleep(ctx, attempt)
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
		d.followFrom(lctx, e, cursor, func(seq uint64) error { return lease.SetCursor(lctx, seq) })
		cancel()
		lease.Release()
	}
}

// followFrom sends e every entry after cursor, waiting for new ones, and
// saves its position with save.
func (d *Dispatcher) followFrom(ctx context.Context, e Endpoint, cursor uint64, save func(uint64) error) {
	log := d.log.With(slog.String("webhook", e.URL))
	log.Info("webhook following the audit trail", slog.Uint64("after", cursor), slog.String("format", string(e.Format)))
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
			if err := save(cursor); err != nil {
				// Delivery goes on; a restart will send again from the
				// last cursor saved.
				log.Error("webhook: saving the cursor failed", slog.Any("err", err))
			}
		}
	}
}

// deliver sends entry to e until e takes it; false means ctx ended first.
func (d *Dispatcher) deliver(ctx context.Context, log *slog.Logger, e Endpoint, entry store.AuditEntry) bool {
	var req *request
	var err error
	if e.Format == FormatListmonk {
		req, err = listmonkRequest(e.URL, entry)
	} else {
		req, err = bouncesinkRequest(e.URL, entry)
	}
	if err != nil {
		// An entry that cannot be encoded never will be: skip it, loudly.
		log.Error("webhook: entry skipped", slog.Uint64("seq", entry.Seq), slog.Any("err", err))
		return true
	}
	if req == nil {
		return true // nothing to say in this format
	}
	for attempt := 1; ; attempt++ {
		err := d.send(ctx, e, entry, req)
		if err == nil {
			log.Debug("webhook delivered", slog.Uint64("seq", entry.Seq), slog.Int("attempt", attempt))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("webhook delivery failed; will retry", slog.Uint64("seq", entry.Seq),
			slog.String("address", entry.Address), slog.Int("attempt", attempt), slog.Any("err", err))
		if !d.sleep(ctx, attempt) {
			return false
		}
	}
}

// send makes one attempt; nil means the endpoint answered 2xx.
func (d *Dispatcher) send(ctx context.Context, e Endpoint, entry store.AuditEntry, r *request) error {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bouncesink-webhook/1")
	req.Header.Set("X-Bouncesink-Delivery", strconv.FormatUint(entry.Seq, 10))
	req.Header.Set("X-Bouncesink-Event", eventName(entry.Action))
	if len(e.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(e.Secret, d.opts.Now(), r.body))
	}
	if e.Authorization != "" {
		req.Header.Set("Authorization", e.Authorization)
	}
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %q", resp.Status, bytes.TrimSpace(snippet))
	}
	return nil
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
