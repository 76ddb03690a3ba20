package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/bouncesink/bouncesink/admin"
	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/internal/gctune"
	"github.com/bouncesink/bouncesink/smtpd"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
	"github.com/bouncesink/bouncesink/store/pgstore"
)

// shutdownGrace is how long serve waits, on SIGINT or SIGTERM, for SMTP
// sessions and HTTP requests to finish before cutting them off. A sender
// cut off before its 250 retries, so nothing acknowledged is lost.
const shutdownGrace = 10 * time.Second

func cmdServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink serve [--config FILE] [--smtp ADDR] [--http ADDR] [--db PATH]")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "TOML config `file` (see configs/bouncesink.toml); built-in defaults without it")
	smtpAddr := fs.String("smtp", "", "SMTP listen `address`, overriding [smtp] listen (default 127.0.0.1:2525)")
	httpAddr := fs.String("http", "", "HTTP API listen `address`, overriding [http] listen (default 127.0.0.1:8025)")
	dbPath := fs.String("db", "", "database `path`, overriding [store] path (default ./data/bouncesink.db)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}

	cfg, ok := configure(*configPath, func(c *Config) {
		override(&c.SMTP.Listen, *smtpAddr)
		override(&c.HTTP.Listen, *httpAddr)
		override(&c.Store.Path, *dbPath)
	}, stderr)
	if !ok {
		return 2
	}
	level, _ := cfg.logLevel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	log.Info("garbage collector", "settings", gctune.Apply())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, runOptions{Logger: log}); err != nil {
		log.Error("bouncesink failed", "err", err)
		if errors.Is(err, boltstore.ErrDamaged) {
			fmt.Fprint(stderr, damagedAdvice(cfg.Store.Path))
		}
		return 1
	}
	return 0
}

// damagedAdvice tells an operator what to do about a damaged database file.
func damagedAdvice(path string) string {
	return fmt.Sprintf(`
bouncesink will not start on a damaged or truncated database file (a full
disk, a copy cut short, a failing disk):
    %[1]s
  - Restore your latest backup (README, "Backup and restore"): move the file
    aside, copy the backup in its place, and start bouncesink again. Bounces
    received since that backup are not in it.
  - To see what is wrong with the file, run bbolt's own check ("bbolt check";
    on a file cut short it stops with a fault of its own):
    go run go.etcd.io/bbolt/cmd/bbolt@v1.5.0 check %[1]s
`, path)
}

// override sets *dst to a flag's value when the flag was given.
func override(dst *string, flag string) {
	if flag != "" {
		*dst = flag
	}
}

// runOptions carry what is not configuration: the logger, and the seams
// tests use.
type runOptions struct {
	Logger *slog.Logger
	// Now is the clock stamping received messages; nil means time.Now.
	Now func() time.Time
	// WrapWriter, when set, wraps the store on the ingestion path (tests
	// inject storage failures with it).
	WrapWriter func(store.Writer) store.Writer
}

// run serves until ctx is done or a server fails, then shuts down.
func run(ctx context.Context, cfg Config, o runOptions) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s, err := start(cfg, o)
	if err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		o.Logger.Info("shutting down")
	case serveErr = <-s.errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := errors.Join(serveErr, s.shutdown(sctx)); err != nil {
		return err
	}
	o.Logger.Info("bouncesink stopped")
	return nil
}

// server is one running bouncesink: the database, and the SMTP and HTTP
// servers on their listeners.
type server struct {
	db       store.Store
	smtp     *smtpd.Server
	http     *http.Server
	smtpAddr net.Addr
	httpAddr net.Addr
	errc     chan error // a server that stopped on its own
	log      *slog.Logger
	hooks    *webhooks
	pruner   *pruner
}

// start opens the database and starts both servers. It returns once both
// listen, so a client may connect as soon as it returns.
func start(cfg Config, o runOptions) (s *server, err error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	db, err := openStore(cfg.Store, cfg.policy())
	if err != nil {
		return nil, err
	}
	var closers []io.Closer
	closers = append(closers, db)
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i].Close()
			}
		}
	}()

	m, err := newMetrics(db.Stats)
	if err != nil {
		return nil, err
	}
	if pg, ok := db.(*pgstore.DB); ok {
		if err := m.reg.Register(pgCollector{pg}); err != nil {
			return nil, err
		}
	}
	auth, err := cfg.auth()
	if err != nil {
		return nil, err
	}
	hooks, err := newWebhooks(cfg, db, m.webhookObserver(), log)
	if err != nil {
		return nil, err
	}
	if err := m.watchWebhooks(hooks.status()); err != nil {
		return nil, err
	}

	var w store.Writer = db
	if o.WrapWriter != nil {
		w = o.WrapWriter(db)
	}
	signer, err := cfg.keySigner(true, log)
	if err != nil {
		return nil, err
	}
	health := api.NewHealth()
	sink := newSink(cfg, health.Writer(m.timed(w)), signer, o.Now, log)
	sink.Recorded = m.recorded
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	smtpSrv, err := smtpd.New(sink, smtpd.Options{
		Hostname:            cfg.SMTP.Hostname,
		Accept:              cfg.SMTP.Accept,
		VERPSeparator:       cfg.SMTP.VERPSeparator,
		MaxMessageBytes:     cfg.SMTP.MaxMessageBytes,
		MaxRecipients:       cfg.SMTP.MaxRecipients,
		MaxLineLength:       cfg.SMTP.MaxLineLength,
		ReadTimeout:         cfg.SMTP.ReadTimeout.Duration,
		WriteTimeout:        cfg.SMTP.WriteTimeout.Duration,
		IdleTimeout:         cfg.SMTP.IdleTimeout.Duration,
		SessionTimeout:      cfg.SMTP.SessionTimeout.Duration,
		MaxConnections:      cfg.SMTP.MaxConnections,
		MaxConnectionsPerIP: cfg.SMTP.MaxConnectionsPerIP,
		MaxCommands:         cfg.SMTP.MaxCommands,
		MaxBadCommands:      cfg.SMTP.MaxBadCommands,
		IPBytesPerHour:      cmp.Or(cfg.SMTP.IPBytesPerHour, -1), // 0 in the config: no limit
		TLSConfig:           tlsConfig,
		Signer:              sink.Signer,
		RequireSigned:       cfg.VERP.RequireSigned,
		Now:                 o.Now,
		Logger:              log,
		Observer:            m,
	})
	if err != nil {
		return nil, err
	}
	smtpLn, err := net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	closers = append(closers, smtpLn)
	httpLn, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}

	s = &server{
		db:   db,
		smtp: smtpSrv,
		http: api.NewServer(routes(cfg, db, api.Options{Logger: log, Auth: auth, Metrics: m.api, Health: health,
			MaxBodyBytes: cfg.HTTP.MaxCheckBytes, MaxImportBytes: cfg.HTTP.MaxImportBytes, MaxHeavy: cfg.HTTP.MaxHeavyRequests,
			Webhooks: webhookStatus(hooks)}), log),
		smtpAddr: smtpLn.Addr(),
		httpAddr: httpLn.Addr(),
		errc:     make(chan error, 2),
		log:      log,
		hooks:    hooks,
		pruner:   newPruner(db, cfg.Retention, o.Now, log),
	}
	go func() {
		if err := smtpSrv.Serve(smtpLn); err != nil {
			s.errc <- err
		}
	}()
	go func() {
		log.Info("http listening", "addr", httpLn.Addr().String())
		if err := s.http.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("http: %w", err)
		}
	}()
	if cfg.smtpIsPublic() && !cfg.VERP.RequireSigned {
		log.Warn("the SMTP listener is not on loopback and verp.require_signed is off: anyone on the internet can "+
			"send a forged bounce naming any address; sign your return paths (bouncesink verp sign) and set "+
			"verp.require_signed = true", "smtp", s.smtpAddr.String())
	}
	if auth.Open() {
		log.Warn("the HTTP API has no tokens: anyone who reaches it may read and change the suppression list "+
			"(allowed on loopback only; see [[http.tokens]])", "http", s.httpAddr.String())
	}
	s.hooks.start()
	s.pruner.start()
	log.Info("bouncesink started", "smtp", s.smtpAddr.String(), "http", s.httpAddr.String(),
		"store", cfg.Store.describe(), "accept", cfg.SMTP.Accept, "webhooks", len(cfg.Webhooks))
	return s, nil
}

// routes serves the API with o, and the admin page under /admin/ ("/"
// redirects there). The admin page takes the API's tokens (o.Auth), a
// browser signing in with a token into a session the page keeps; with no
// Auth at all it is open on loopback only. With no tokens, or
// with http.allowed_hosts set, only requests naming a loopback host or
// an allowed one are answered (DNS rebinding).
func routes(cfg Config, db store.Store, o api.Options) http.Handler {
	proxies, _ := cfg.trustedProxies() // validated
	o.Auth.TrustProxies(proxies)
	adminOpts := admin.Options{Logger: o.Logger, TrustedProxies: proxies, Webhooks: o.Webhooks}
	if o.Auth != nil {
		adminOpts.Authorize, adminOpts.CheckToken = o.Auth.Authenticate, o.Auth.CheckToken
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", admin.New(admin.FromStore(db), adminOpts))
	mux.HandleFunc("GET /{$}", admin.RedirectRoot)
	mux.Handle("/", api.NewHandler(db, o))
	if o.Auth.Open() || len(cfg.HTTP.AllowedHosts) > 0 {
		return api.AllowHosts(cfg.HTTP.AllowedHosts, mux)
	}
	return mux
}

// shutdown stops both servers, waiting for work in flight until ctx is
// done, and closes the database last.
func (s *server) shutdown(ctx context.Context) error {
	var smtpErr error
	var wg sync.WaitGroup
	wg.Go(func() { smtpErr = s.smtp.Shutdown(ctx) })
	wg.Go(func() {
		if err := s.http.Shutdown(ctx); err != nil {
			s.log.Warn("http requests still running at shutdown; closing them", "err", err)
			s.http.Close()
		}
	})
	wg.Wait()
	if smtpErr != nil {
		smtpErr = fmt.Errorf("smtp shutdown: %w", smtpErr)
	}
	s.hooks.stop() // it reads the database
	s.pruner.stop()
	return errors.Join(smtpErr, s.db.Close())
}
