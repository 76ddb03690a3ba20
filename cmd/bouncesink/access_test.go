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
	t.Setenv("TEST_TOKEN_OPS", testAdminToken)
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
		{"short token", func(c *Config) { c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", Token: "abc"}} }, "bits of entropy"},
		{"made-up token", func(c *Config) {
			c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "admin", Token: "read-read-read-read-read"}}
		}, "not a random token"},
		{"bad role", func(c *Config) { c.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: "root", Token: testAdminToken}} }, `role "root"`},
		{"bad trusted proxy", func(c *Config) { c.HTTP.TrustedProxies = []string{"proxy.example"} }, "http.trusted_proxies"},
		{"trusted proxies", func(c *Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8", "::1"} }, ""},
		{"webhook", func(c *Config) { c.Webhooks = []WebhookConfig{{URL: "https://h.example/x", Secret: long}} }, ""},
		{"webhook without secret", func(c *Config) { c.Webhooks = []WebhookConfig{{URL: "https://h.example/x"}} }, "secret (or secret_env) of at least 16"},
		{"listmonk without secret", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://lm.example", Format: "listmonk", Authorization: "token a:b"}}
		}, ""},
		{"listmonk without authorization", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://lm.example", Format: "listmonk"}}
		}, "needs authorization"},
		{"mautic basic", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://m.example", Format: "mautic", Authorization: "Basic YTpi"}}
		}, ""},
		{"mautic oauth2", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://m.example", Format: "mautic", ClientID: "1_x", ClientSecret: "s"}}
		}, ""},
		{"mautic without credentials", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://m.example", Format: "mautic"}}
		}, "needs authorization"},
		{"mautic with both", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://m.example", Format: "mautic", Authorization: "Basic YTpi", ClientID: "1_x", ClientSecret: "s"}}
		}, "not both"},
		{"oauth2 half set", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://m.example", Format: "mautic", ClientID: "1_x"}}
		}, "set both client_id and client_secret"},
		{"oauth2 for keila", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://k.example", Format: "keila", Authorization: "Bearer k", ClientID: "1_x", ClientSecret: "s"}}
		}, "for format mautic"},
		{"keila without key", func(c *Config) {
			c.Webhooks = []WebhookConfig{{URL: "https://k.example", Format: "keila"}}
		}, "needs authorization"},
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
token = "5f0c7a1e9b3d48f2a6c1e07d93b4f5a28c6e1d0b7f3a9e452d8c1b6f0e7a3d94"

[[webhooks]]
url = "https://lm.example"
format = "listmonk"
authorization = "token bouncesink:0123456789abcdef"
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
	const readToken = testReadToken
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

// With the quick start's defaults (no tokens, on loopback) a web page in
// the browser of someone on the machine can neither change the list (a
// cross-site form or fetch) nor read it by rebinding its own host name to
// 127.0.0.1.
func TestOpenAPIRefusesBrowserAttacks(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	req, _ := http.NewRequest("POST", ts.http+"/v1/import", strings.NewReader("address,reason,detail,since\nvictim@example.org,manual,x,\n"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("a cross-site text/plain import was accepted")
	}
	if code, _ := doHTTP(t, "GET", ts.http+"/v1/suppressions/victim@example.org", "", nil); code != 404 {
		t.Errorf("the cross-site import suppressed its victim (GET = %d)", code)
	}
	for _, path := range []string{"/v1/export", "/admin/", "/v1/recipients/victim@example.org"} {
		req, _ := http.NewRequest("GET", ts.http+path, nil)
		req.Host = "evil.example:8025"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(body), "allowed_hosts") {
			t.Errorf("GET %s with Host evil.example = %d %s, want 421", path, resp.StatusCode, body)
		}
	}
	if code, _ := doHTTP(t, "GET", ts.http+"/v1/export", "", nil); code != 200 {
		t.Errorf("GET /v1/export on 127.0.0.1 = %d, want 200", code)
	}
}

// An entry a webhook endpoint refuses for good goes on the dead-letter
// list, which the API, the admin page and /metrics show, and delivery
// goes on; the metrics count what was sent, failed and given up.
func TestWebhookDeadLettersVisible(t *testing.T) {
	const secret = "webhook-secret-webhook-secret"
	got := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		if p["address"] == "bob@example.org" {
			http.Error(w, `{"error": "subscriber list is closed"}`, http.StatusUnprocessableEntity)
			return
		}
		got <- p["address"].(string)
	}))
	defer rcv.Close()
	cfg := testConfig(t)
	cfg.Webhooks = []WebhookConfig{{Name: "crm", URL: rcv.URL + "/hook?key=sekrit-key", Secret: secret}}
	ts := startServer(t, cfg, runOptions{})
	for _, addr := range []string{"bob@example.org", "carol@example.org"} {
		if code, body := doHTTP(t, "PUT", ts.http+"/v1/suppressions/"+addr, "", nil); code != 201 {
			t.Fatalf("PUT %s = %d %s", addr, code, body)
		}
	}
	select {
	case a := <-got:
		if a != "carol@example.org" {
			t.Fatalf("delivered %s first, want carol (bob is refused)", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("carol's change never arrived: bob's refusal held the endpoint")
	}

	// The dispatcher moves on just after the endpoint's answer.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, body := doHTTP(t, "GET", ts.http+"/v1/webhooks", "", nil); strings.Contains(body, `"position":2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the endpoint's position never reached 2")
		}
	}
	var dead struct {
		DeadLetters []webhook.DeadLetter `json:"dead_letters"`
		Total       int                  `json:"total"`
	}
	code, body := doHTTP(t, "GET", ts.http+"/v1/webhooks/dead-letters?endpoint=crm", "", nil)
	if err := json.Unmarshal([]byte(body), &dead); err != nil || code != 200 || dead.Total != 1 ||
		dead.DeadLetters[0].Address != "bob@example.org" || dead.DeadLetters[0].Status != 422 {
		t.Errorf("GET /v1/webhooks/dead-letters = %d %s", code, body)
	}
	code, body = doHTTP(t, "GET", ts.http+"/v1/webhooks", "", nil)
	if code != 200 || !strings.Contains(body, `"name":"crm"`) || !strings.Contains(body, `"dead_letters":1`) || strings.Contains(body, "sekrit") {
		t.Errorf("GET /v1/webhooks = %d %s", code, body)
	}
	code, body = doHTTP(t, "GET", ts.http+"/admin/webhooks", "", nil)
	if code != 200 || !strings.Contains(body, "bob@example.org") || !strings.Contains(body, "subscriber list is closed") || strings.Contains(body, "sekrit") {
		t.Errorf("GET /admin/webhooks = %d %s", code, body)
	}
	_, metrics := doHTTP(t, "GET", ts.http+"/metrics", "", nil)
	for _, want := range []string{
		`bouncesink_webhook_deliveries_total{endpoint="crm",result="sent"} 1`,
		`bouncesink_webhook_deliveries_total{endpoint="crm",result="dead_lettered"} 1`,
		`bouncesink_webhook_dead_letters{endpoint="crm"} 1`,
		`bouncesink_webhook_position{endpoint="crm"} 2`,
		`bouncesink_webhook_lag_seconds{endpoint="crm"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
