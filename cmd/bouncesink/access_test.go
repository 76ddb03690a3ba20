package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/webhook"
)

func TestAccessConfig(t *testing.T) {
	t.Setenv("TEST_TOKEN_OPS", strings.Repeat("o", 24))
	t.Setenv("TEST_EMPTY", "")
	long := strings.Repeat("x", 24)
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"open on 0.0.0.0", func(c *Config) { c.HTTP.Listen = "0.0.0.0:8025" }, "not a loopback address and no [[http.tokens]]"},
		{"open on all interfaces", func(c *Config) { c.HTTP.Listen = ":8025" }, "not a loopback address"},
		{"open on localhost", func(c *Config) { c.HTTP.Listen = "localhost:8025" }, ""},
		{"open on ::1", func(c *Config) { c.HTTP.Listen = "[::1]:8025" }, ""},
		{"tokens on 0.0.0.0", func(c *Config) {
			c.HTTP.Listen = "0.0.0.0:8025"
			c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", TokenEnv: "TEST_TOKEN_OPS"}}
		}, ""},
		{"token and token_env", func(c *Config) {
			c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", Token: long, TokenEnv: "TEST_TOKEN_OPS"}}
		}, "not both"},
		{"empty token_env", func(c *Config) {
			c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", TokenEnv: "TEST_EMPTY"}}
		}, "TEST_EMPTY is empty or unset"},
		{"short token", func(c *Config) { c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", Token: "abc"}} }, "shorter than 16"},
		{"bad role", func(c *Config) { c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "root", Token: long}} }, `role "root"`},
		{"webhook", func(c *Config) { c.Webhooks = []WebhookConfig{{URL: "https://h.example/x", Secret: long}} }, ""},
		{"webhook without secret", func(c *Config) { c.Webhooks = []WebhookConfig{{URL: "https://h.example/x"}} }, "secret (or secret_env) of at least 16"},
		{"listmonk without secret", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://lm.example", Format: "listmonk", Authorization: "token a:b"}}
		}, ""},
		{"bad format", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://h.example", Format: "slack", Secret: long}}
		}, `format "slack"`},
		{"no url", func(c *Config) { c.Webhooks = []WebhookConfig{{Secret: long}} }, "url is empty"},
		// A public SMTP listener with the quick start's localhost settings.
		{"smtp on :25, localhost defaults", func(c *Config) { c.SMTP.Listen = ":25" }, "set smtp.accept"},
		{"smtp on :25, localhost hostname", func(c *Config) {
			c.SMTP.Listen, c.SMTP.Accept = ":25", []string{"@bounce.example.com"}
		}, "set smtp.hostname"},
		{"smtp on :25, localhost return paths", func(c *Config) {
			c.SMTP.Listen, c.SMTP.Hostname, c.SMTP.Accept = "0.0.0.0:25", "sink.example.com", []string{"bounces@localhost"}
		}, "set smtp.accept"},
		{"smtp on :25, configured", func(c *Config) {
			c.SMTP.Listen, c.SMTP.Hostname, c.SMTP.Accept = ":25", "sink.example.com", []string{"@bounce.example.com"}
		}, ""},
		{"smtp on localhost:25, localhost defaults", func(c *Config) { c.SMTP.Listen = "localhost:25" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.edit(&c)
			err := c.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate = %v, want valid", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadConfigTokensAndWebhooks(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `
[http]
listen = "0.0.0.0:8025"
[[http.tokens]]
name = "mailer"
role = "read"
token = "mailer-mailer-mailer"

[[webhooks]]
url = "https://lm.example"
format = "listmonk"
timeout = "3s"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.HTTP.Tokens) != 1 || cfg.HTTP.Tokens[0].Name != "mailer" || len(cfg.Webhooks) != 1 ||
		cfg.Webhooks[0].Timeout.Duration != 3*time.Second || cfg.Webhooks[0].Format != "listmonk" {
		t.Errorf("loadConfig = %+v %+v", cfg.HTTP, cfg.Webhooks)
	}
	if err := cfg.validate(); err != nil {
		t.Errorf("validate = %v", err)
	}
}

// do sends a request with a bearer token (none when empty).
func doHTTP(t *testing.T, method, url, token string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Over real HTTP: tokens guard the API, and /metrics shows what the SMTP
// side did.
func TestTokensAndMetrics(t *testing.T) {
	const readToken = "read-read-read-read-read"
	cfg := testConfig(t)
	cfg.HTTP.Tokens = []TokenConfig{{Name: "mailer", Role: "read", Token: readToken}}
	ts := startServer(t, cfg, runOptions{})
	const alice = "alice@example.org"
	msg := fixture(t, userUnknown, "", "")
	bounce(t, ts, returnPath(alice), msg)
	bounce(t, ts, returnPath(alice), nth(msg, 2))
	c := dialSMTP(t, ts.smtp)
	wantSMTPError(t, send(c, "", "someone@elsewhere.example", msg), 550, [3]int{5, 1, 1})

	if code, _ := doHTTP(t, "GET", ts.http+"/v1/suppressions/"+alice, "", nil); code != 401 {
		t.Errorf("GET suppression without a token = %d, want 401", code)
	}
	if code, body := doHTTP(t, "GET", ts.http+"/v1/suppressions/"+alice, readToken, nil); code != 200 {
		t.Errorf("GET suppression with the read token = %d %s, want 200", code, body)
	}
	if code, _ := doHTTP(t, "GET", ts.http+"/healthz", "", nil); code != 200 {
		t.Errorf("GET /healthz without a token = %d, want 200", code)
	}
	code, metrics := doHTTP(t, "GET", ts.http+"/metrics", readToken, nil)
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{
		`bouncesink_smtp_sessions_total 3`,
		`bouncesink_smtp_replies_total{code="250",command="DATA"} 2`,
		`bouncesink_smtp_replies_total{code="550",command="RCPT"} 1`,
		`bouncesink_verdicts_total{class="hard",reason="user_unknown"} 2`,
		`bouncesink_store_commit_seconds_count 2`,
		`bouncesink_suppressions{reason="hard"} 1`,
		`bouncesink_suppressions{reason="manual"} 0`,
		`bouncesink_http_requests_total{code="401",route="GET /v1/suppressions/{address}"} 1`,
		`bouncesink_http_requests_total{code="200",route="GET /v1/suppressions/{address}"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(metrics)
	}
}

// A webhook endpoint that never answers holds up neither SMTP nor the
// other endpoints: the bounces are acknowledged, and the other endpoint
// gets the suppression, signed.
func TestWebhookDoesNotBlockIngestion(t *testing.T) {
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)
	const secret = "webhook-secret-webhook-secret"
	var mu sync.Mutex
	var got []map[string]any
	arrived := make(chan struct{}, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte(secret), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var p map[string]any
		json.Unmarshal(body, &p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		arrived <- struct{}{}
	}))
	defer rcv.Close()

	cfg := testConfig(t)
	cfg.Webhooks = []WebhookConfig{
		{URL: hanging.URL, Secret: secret, Timeout: Duration{5 * time.Minute}},
		{URL: rcv.URL, Secret: secret},
	}
	ts := startServer(t, cfg, runOptions{})
	const alice, bob = "alice@example.org", "bob@example.org"
	for i, rcpt := range []string{alice, alice, bob, bob} {
		bounce(t, ts, returnPath(rcpt), nth(fixture(t, userUnknown, alice, rcpt), i))
	}
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the webhook never arrived")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0]["address"] != alice || got[0]["event"] != "suppression.added" ||
		got[0]["actor"] != "policy" || got[1]["address"] != bob {
		t.Errorf("webhooks = %v, want alice then bob suppressed by the policy", got)
	}
	ts.stop(t) // with a delivery hanging: shutdown must not wait for it
}

// serve --smtp :25 with the defaults says which keys to set, and starts
// nothing.
func TestServePublicSMTPWithLocalhostDefaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	db := filepath.Join(t.TempDir(), "bouncesink.db")
	code := dispatch([]string{"serve", "--smtp", ":25", "--db", db}, nil, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "smtp.accept") || !strings.Contains(stderr.String(), "smtp.hostname") {
		t.Errorf("serve --smtp :25 = %d, %q; want 2 and an error naming smtp.accept and smtp.hostname", code, stderr.String())
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the database was created: serve started")
	}
}

// A public SMTP listener without require_signed is logged as a warning
// that names the setting.
func TestServeWarnsWhenPublicAndUnsigned(t *testing.T) {
	for _, signed := range []bool{false, true} {
		cfg := testConfig(t)
		cfg.SMTP.Listen, cfg.SMTP.Hostname = "0.0.0.0:0", "sink.example.com"
		cfg.VERP.RequireSigned = signed
		var logs syncBuffer // the server logs from its own goroutines too
		ts := startServer(t, cfg, runOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		ts.stop(t)
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "verp.require_signed = true")
		if warned == signed {
			t.Errorf("require_signed %v: warned %v; logs:\n%s", signed, warned, logs.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
