package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/smtpd"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
	"github.com/bouncesink/bouncesink/verp"
)

// Config is the whole configuration of bouncesink serve. Its defaults live
// in defaultConfig; configs/bouncesink.toml documents every key, and a
// test keeps the two equal.
type Config struct {
	SMTP   SMTPConfig   `toml:"smtp"`
	HTTP   HTTPConfig   `toml:"http"`
	Store  StoreConfig  `toml:"store"`
	Policy PolicyConfig `toml:"policy"`
	// Retention bounds what the store keeps of old messages (prune.go).
	Retention RetentionConfig `toml:"retention"`
	VERP      VERPConfig      `toml:"verp"`
	Log       LogConfig       `toml:"log"`
	// Webhooks are told of every change of the suppression list (access.go).
	Webhooks []WebhookConfig `toml:"webhooks"`
}

type SMTPConfig struct {
	Listen          string   `toml:"listen"`
	Hostname        string   `toml:"hostname"`
	Accept          []string `toml:"accept"`
	VERPSeparator   string   `toml:"verp_separator"`
	MaxMessageBytes int64    `toml:"max_message_bytes"`
	MaxRecipients   int      `toml:"max_recipients"`
	MaxLineLength   int      `toml:"max_line_length"`
	ReadTimeout     Duration `toml:"read_timeout"`
	WriteTimeout    Duration `toml:"write_timeout"`
	IdleTimeout     Duration `toml:"idle_timeout"`
	SessionTimeout  Duration `toml:"session_timeout"`

	MaxConnections      int `toml:"max_connections"`
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	MaxCommands         int `toml:"max_commands"`
	MaxBadCommands      int `toml:"max_bad_commands"`

	TLSCert string `toml:"tls_cert"` // PEM files; both set enable STARTTLS
	TLSKey  string `toml:"tls_key"`

	IPBytesPerHour  int64    `toml:"ip_bytes_per_hour"` // 0: no limit
	ClassifyTimeout Duration `toml:"classify_timeout"`
	BounceSenders   []string `toml:"bounce_senders"`
}

// VERPConfig is the [verp] section: signed return paths.
type VERPConfig struct {
	RequireSigned bool          `toml:"require_signed"`
	Lifetime      Duration      `toml:"lifetime"`
	Keys          []VERPKeyConf `toml:"keys"`
	// KeyFile holds the keys when Keys is empty; "" means verp.keys beside
	// the database. serve creates it at its first start (keyfile.go).
	KeyFile string `toml:"key_file"`
}

// VERPKeyConf is one signing key; the first in the list signs.
type VERPKeyConf struct {
	ID        string `toml:"id"`
	Secret    string `toml:"secret"`
	SecretEnv string `toml:"secret_env"` // name of an environment variable holding the secret
}

type HTTPConfig struct {
	Listen string        `toml:"listen"`
	Tokens []TokenConfig `toml:"tokens"` // none: open, on loopback only (access.go)
	// AllowedHosts are the Host names answered besides loopback ones: with
	// no tokens every request must name one of them or loopback (DNS
	// rebinding); with tokens, set it to enforce the same.
	AllowedHosts []string `toml:"allowed_hosts"`
	// TrustedProxies are the addresses (CIDR prefixes) whose
	// X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies   []string `toml:"trusted_proxies"`
	MaxCheckBytes    int64    `toml:"max_check_bytes"`
	MaxImportBytes   int64    `toml:"max_import_bytes"`
	MaxHeavyRequests int      `toml:"max_heavy_requests"`
}

type StoreConfig struct {
	// Engine is "bbolt" (one file, one process) or "postgres" (one
	// database shared by several processes and hosts).
	Engine string `toml:"engine"`
	Path   string `toml:"path"`    // bbolt: the database file
	DSN    string `toml:"dsn"`     // postgres: postgres://user@host:port/db
	DSNEnv string `toml:"dsn_env"` // postgres: name of an environment variable holding the DSN
	// MaxRawBytes is the quota of raw messages kept (ingest.Sink.RawQuota);
	// 0: none.
	MaxRawBytes int64 `toml:"max_raw_bytes"`
	// DuplicateIndexSize bounds the digests of recent messages that the
	// bbolt engine keeps in memory to find duplicates
	// (boltstore.Options.DigestIndexSize).
	DuplicateIndexSize int `toml:"duplicate_index_size"`
}

// DefaultMaxRawBytes is the default quota of raw messages kept, as
// received (compressed, they take about a third of it on disk).
const DefaultMaxRawBytes = 16 << 30

// Store engines.
const (
	engineBolt     = "bbolt"
	enginePostgres = "postgres"
)

type PolicyConfig struct {
	HardThreshold      int      `toml:"hard_threshold"`
	HardWindow         Duration `toml:"hard_window"`
	ComplaintThreshold int      `toml:"complaint_threshold"`
	SoftThreshold      int      `toml:"soft_threshold"`
	SoftMinSpan        Duration `toml:"soft_min_span"`
	SoftWindow         Duration `toml:"soft_window"`
	DuplicateWindow    Duration `toml:"duplicate_window"`
}

// RetentionConfig is the [retention] section: how long the store keeps
// raw messages and history (store.Retention; zero keeps for ever), and how
// often serve prunes.
type RetentionConfig struct {
	RawMessages        Duration `toml:"raw_messages"`
	Events             Duration `toml:"events"`
	EventsPerRecipient int      `toml:"events_per_recipient"`
	PruneEvery         Duration `toml:"prune_every"`
}

func (rc RetentionConfig) retention() store.Retention {
	return store.Retention{RawMessages: rc.RawMessages.Duration, Events: rc.Events.Duration, EventsPerRecipient: rc.EventsPerRecipient}
}

type LogConfig struct {
	Level string `toml:"level"` // debug, info, warn or error
}

// defaultConfig is what bouncesink runs with when given no file and no flags.
func defaultConfig() Config {
	p, r := store.DefaultPolicy(), store.DefaultRetention()
	return Config{
		SMTP: SMTPConfig{
			Listen:          "127.0.0.1:2525",
			Hostname:        smtpd.DefaultHostname,
			Accept:          append([]string(nil), smtpd.DefaultAccept...),
			VERPSeparator:   smtpd.DefaultVERPSeparator,
			MaxMessageBytes: smtpd.DefaultMaxMessageBytes,
			MaxRecipients:   smtpd.DefaultMaxRecipients,
			MaxLineLength:   smtpd.DefaultMaxLineLength,
			ReadTimeout:     Duration{smtpd.DefaultReadTimeout},
			WriteTimeout:    Duration{smtpd.DefaultWriteTimeout},
			IdleTimeout:     Duration{smtpd.DefaultIdleTimeout},
			SessionTimeout:  Duration{smtpd.DefaultSessionTimeout},

			MaxConnections:      smtpd.DefaultMaxConnections,
			MaxConnectionsPerIP: smtpd.DefaultMaxConnectionsPerIP,
			MaxCommands:         smtpd.DefaultMaxCommands,
			MaxBadCommands:      smtpd.DefaultMaxBadCommands,

			IPBytesPerHour:  smtpd.DefaultIPBytesPerHour,
			ClassifyTimeout: Duration{ingest.DefaultClassifyTimeout},
			BounceSenders:   []string{},
		},
		HTTP: HTTPConfig{Listen: "127.0.0.1:8025", Tokens: []TokenConfig{}, AllowedHosts: []string{}, TrustedProxies: []string{},
			MaxCheckBytes: api.DefaultMaxBodyBytes, MaxImportBytes: api.DefaultMaxImportBytes, MaxHeavyRequests: api.DefaultMaxHeavy},
		Store: StoreConfig{Engine: engineBolt, Path: "./data/bouncesink.db", MaxRawBytes: DefaultMaxRawBytes,
			DuplicateIndexSize: boltstore.DefaultDigestIndexSize},
		Policy: PolicyConfig{
			HardThreshold:      p.HardThreshold,
			HardWindow:         Duration{p.HardWindow},
			ComplaintThreshold: p.ComplaintThreshold,
			SoftThreshold:      p.SoftThreshold,
			SoftMinSpan:        Duration{p.SoftMinSpan},
			SoftWindow:         Duration{p.SoftWindow},
			DuplicateWindow:    Duration{p.DuplicateWindow},
		},
		Retention: RetentionConfig{
			RawMessages:        Duration{r.RawMessages},
			Events:             Duration{r.Events},
			EventsPerRecipient: r.EventsPerRecipient,
			PruneEvery:         Duration{time.Hour},
		},
		VERP: VERPConfig{Lifetime: Duration{verp.DefaultLifetime}, Keys: []VERPKeyConf{}},
		Log:  LogConfig{Level: "info"},
	}
}

// loadConfig reads a TOML file over the defaults. Keys it does not know are
// an error, so a typo cannot silently leave a default in place.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	cfg.SMTP.Accept = nil // a list in the file replaces the default, not appends to it
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if !md.IsDefined("smtp", "accept") {
		cfg.SMTP.Accept = defaultConfig().SMTP.Accept
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return cfg, nil
}

// validate reports every setting that cannot work, before anything starts.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for name, addr := range map[string]string{"smtp.listen": c.SMTP.Listen, "http.listen": c.HTTP.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s %q: want host:port", name, addr)
		}
	}
	if len(c.SMTP.Accept) == 0 {
		bad("smtp.accept is empty: every bounce would be refused")
	}
	if c.SMTP.VERPSeparator == "" || strings.ContainsAny(c.SMTP.VERPSeparator, "@= \t") {
		bad("smtp.verp_separator %q: want a non-empty string without @, = or spaces", c.SMTP.VERPSeparator)
	}
	if c.SMTP.MaxMessageBytes <= 0 || c.SMTP.MaxRecipients <= 0 {
		bad("smtp.max_message_bytes and smtp.max_recipients must be positive")
	}
	if c.SMTP.MaxLineLength < 510 {
		bad("smtp.max_line_length %d: RFC 5321 s4.5.3.1.4 requires command lines of at least 512 octets with the CRLF, so 510", c.SMTP.MaxLineLength)
	}
	if c.SMTP.ReadTimeout.Duration <= 0 || c.SMTP.WriteTimeout.Duration <= 0 ||
		c.SMTP.IdleTimeout.Duration <= 0 || c.SMTP.SessionTimeout.Duration <= 0 {
		bad("smtp.read_timeout, write_timeout, idle_timeout and session_timeout must be positive")
	}
	if c.SMTP.MaxConnections <= 0 || c.SMTP.MaxConnectionsPerIP <= 0 || c.SMTP.MaxCommands <= 0 || c.SMTP.MaxBadCommands <= 0 {
		bad("smtp.max_connections, max_connections_per_ip, max_commands and max_bad_commands must be positive")
	}
	if c.SMTP.IPBytesPerHour < 0 || c.Store.MaxRawBytes < 0 {
		bad("smtp.ip_bytes_per_hour and store.max_raw_bytes must be 0 (no limit) or more")
	}
	if c.Store.DuplicateIndexSize <= 0 {
		bad("store.duplicate_index_size must be positive")
	}
	if c.SMTP.ClassifyTimeout.Duration <= 0 {
		bad("smtp.classify_timeout must be positive")
	}
	for _, e := range c.SMTP.BounceSenders {
		if local, domain, ok := strings.Cut(strings.TrimSpace(e), "@"); !ok || domain == "" || strings.ContainsAny(local+domain, " \t<>@") {
			bad("smtp.bounce_senders entry %q: want local@domain or @domain", e)
		}
	}
	if (c.SMTP.TLSCert == "") != (c.SMTP.TLSKey == "") {
		bad("smtp.tls_cert and smtp.tls_key: set both (STARTTLS) or neither")
	} else if c.SMTP.TLSCert != "" {
		if _, err := c.tlsConfig(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.VERP.Lifetime.Duration < time.Hour {
		bad("verp.lifetime %s: want at least an hour", c.VERP.Lifetime.Duration)
	}
	if _, err := c.signer(); err != nil {
		errs = append(errs, err)
	}
	if c.Store.Path == "" {
		bad("store.path is empty")
	}
	if err := c.Retention.retention().Validate(); err != nil {
		bad("[retention]: %v", err)
	}
	if c.Retention.PruneEvery.Duration < time.Minute {
		bad("retention.prune_every %s: want at least a minute", c.Retention.PruneEvery.Duration)
	}
	if err := c.Store.check(); err != nil {
		errs = append(errs, err)
	}
	if c.Store.Engine == enginePostgres && len(c.VERP.Keys) == 0 && c.VERP.KeyFile == "" {
		// Each host would make a key file of its own, and refuse the
		// return paths the others signed.
		bad("store.engine postgres: set [verp] keys or verp.key_file, the same on every host sharing the database")
	}
	if _, err := c.auth(); err != nil {
		errs = append(errs, err)
	}
	if c.HTTP.MaxCheckBytes <= 0 || c.HTTP.MaxImportBytes <= 0 || c.HTTP.MaxHeavyRequests <= 0 {
		bad("http.max_check_bytes, max_import_bytes and max_heavy_requests must be positive")
	}
	if _, err := c.trustedProxies(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkOpenAPI(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkPublicSMTP(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.webhookEndpoints(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.logLevel(); err != nil {
		errs = append(errs, err)
	}
	if err := c.policy().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// signer returns the signer of return paths the [verp] keys make, or nil
// when there are none (the key file then holds them: see keySigner).
func (c Config) signer() (*verp.Signer, error) {
	v := c.VERP
	if len(v.Keys) == 0 {
		return nil, nil
	}
	keys := make([]verp.Key, len(v.Keys))
	for i, k := range v.Keys {
		secret := k.Secret
		switch {
		case k.Secret != "" && k.SecretEnv != "":
			return nil, fmt.Errorf("verp key %q: set secret or secret_env, not both", k.ID)
		case k.SecretEnv != "":
			if secret = os.Getenv(k.SecretEnv); secret == "" {
				return nil, fmt.Errorf("verp key %q: environment variable %s is empty or unset", k.ID, k.SecretEnv)
			}
		}
		keys[i] = verp.Key{ID: k.ID, Secret: []byte(secret)}
	}
	s, err := verp.NewSigner(verp.SignerOptions{Keys: keys, Lifetime: v.Lifetime.Duration, Separator: c.SMTP.VERPSeparator})
	if err != nil {
		return nil, fmt.Errorf("verp.keys: %w", err)
	}
	return s, nil
}

// tlsConfig loads the STARTTLS certificate, or returns nil without one.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.SMTP.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.SMTP.TLSCert, c.SMTP.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("smtp.tls_cert, smtp.tls_key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func (c Config) policy() store.Policy {
	p := c.Policy
	return store.Policy{
		HardThreshold: p.HardThreshold, HardWindow: p.HardWindow.Duration,
		ComplaintThreshold: p.ComplaintThreshold,
		SoftThreshold:      p.SoftThreshold, SoftMinSpan: p.SoftMinSpan.Duration, SoftWindow: p.SoftWindow.Duration,
		DuplicateWindow: p.DuplicateWindow.Duration,
	}
}

func (c Config) logLevel() (slog.Level, error) {
	var l slog.Level
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(c.Log.Level))
	}
	return l, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
}

// Duration is a time.Duration written as a string in TOML ("720h", "5m").
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, e.g. \"90s\", \"5m\", \"720h\"", b)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// configure is how every subcommand gets its configuration: the built-in
// defaults, or the file at path; then the command-line overrides; then
// validation. It prints what went wrong and reports false.
func configure(path string, overrides func(*Config), stderr io.Writer) (Config, bool) {
	cfg := defaultConfig()
	if path != "" {
		var err error
		if cfg, err = loadConfig(path); err != nil {
			fmt.Fprintln(stderr, "bouncesink:", err)
			return Config{}, false
		}
	}
	if overrides != nil {
		overrides(&cfg)
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "bouncesink: invalid configuration:", err)
		return Config{}, false
	}
	return cfg, true
}
