package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/verp"
)

const testSecret = "0123456789abcdef-test-secret"

func signedConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.VERP.RequireSigned = true
	cfg.VERP.Keys = []VERPKeyConf{{ID: "a", Secret: testSecret}}
	return cfg
}

// verpCmd runs bouncesink verp with a config file holding cfg's keys.
func verpCmd(t *testing.T, cfg Config, args ...string) (int, string, string) {
	t.Helper()
	var keys []string
	for _, k := range cfg.VERP.Keys {
		keys = append(keys, `{ id = "`+k.ID+`", secret = "`+k.Secret+`" }`)
	}
	path := writeConfig(t, "[smtp]\naccept = [\"bounces@news.example.com\"]\n[verp]\nkeys = ["+strings.Join(keys, ", ")+"]\n")
	var stdout, stderr bytes.Buffer
	code := dispatch(append([]string{"verp", args[0], "--config", path}, args[1:]...), nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVERPCommand(t *testing.T) {
	cfg := signedConfig(t)
	code, out, errOut := verpCmd(t, cfg, "sign", "alice@example.org", "Bob@Example.NET")
	lines := strings.Fields(out)
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "bounces+alice=example.org.") ||
		!strings.HasSuffix(lines[0], "@news.example.com") || !strings.HasPrefix(lines[1], "bounces+bob=example.net.") {
		t.Fatalf("verp sign = %d, %q (stderr %q)", code, out, errOut)
	}
	code, out, _ = verpCmd(t, cfg, "verify", lines[0])
	if code != 0 || !strings.Contains(out, "\tvalid\trecipient=alice@example.org\tkey=a\t") {
		t.Errorf("verp verify = %d, %q", code, out)
	}
	code, out, _ = verpCmd(t, cfg, "verify", strings.Replace(lines[0], "alice", "carol", 1), "bounces@news.example.com")
	if code != 1 || strings.Count(out, "\tinvalid\t") != 2 {
		t.Errorf("verp verify of a forgery = %d, %q", code, out)
	}
	code, _, _ = verpCmd(t, cfg, "sign", "--return-path", "returns@bounce.example.com", "alice@example.org")
	if code != 0 {
		t.Errorf("verp sign --return-path = %d", code)
	}
}

// With no [verp] keys, signing still works: verify has nothing to check
// against until a key file exists, and sign makes the one serve would make.
func TestVERPCommandKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, "[store]\npath = \""+filepath.Join(dir, "data", "bouncesink.db")+"\"\n")
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := dispatch(append([]string{"verp", args[0], "--config", path}, args[1:]...), nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, _, errOut := run("verify", "bounces+alice=example.org.apd3.aoqlrhftkuu4jc@localhost"); code != 2 ||
		!strings.Contains(errOut, "no keys") {
		t.Errorf("verp verify without keys = %d, %q; want 2 and \"no keys\"", code, errOut)
	}
	code, out, errOut := run("sign", "alice@example.org")
	if code != 0 || !strings.HasPrefix(out, "bounces+alice=example.org.") || !strings.HasSuffix(out, "@localhost\n") ||
		!strings.Contains(errOut, "created a VERP signing key") {
		t.Fatalf("verp sign without keys = %d, %q (stderr %q); want a signed return path and a note of the new key", code, out, errOut)
	}
	keyFile := filepath.Join(dir, "data", "verp.keys")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, %v; want mode 0600", keyFile, fi, err)
	}
	if code, got, _ := run("verify", strings.TrimSpace(out)); code != 0 || !strings.Contains(got, "\tvalid\trecipient=alice@example.org") {
		t.Errorf("verp verify of what sign made = %d, %q", code, got)
	}
}

func TestVERPKeyFromEnvironment(t *testing.T) {
	t.Setenv("BOUNCESINK_TEST_VERP_KEY", testSecret)
	cfg := defaultConfig()
	cfg.VERP.Keys = []VERPKeyConf{{ID: "a", SecretEnv: "BOUNCESINK_TEST_VERP_KEY"}}
	s, err := cfg.signer()
	if err != nil || s == nil {
		t.Fatalf("signer() = %v, %v", s, err)
	}
	inFile := defaultConfig()
	inFile.VERP.Keys = []VERPKeyConf{{ID: "a", Secret: testSecret}}
	fromFile, _ := inFile.signer()
	addr, _ := fromFile.Sign("bounces@localhost", "alice@example.org", time.Now())
	if _, err := s.Verify(addr, time.Now()); err != nil {
		t.Errorf("key from the environment does not verify the same key's signature: %v", err)
	}
}

func TestValidateHardeningKeys(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"short secret", func(c *Config) { c.VERP.Keys = []VERPKeyConf{{ID: "a", Secret: "short"}} }, "secret shorter"},
		{"bad key id", func(c *Config) { c.VERP.Keys = []VERPKeyConf{{ID: "Key 1", Secret: testSecret}} }, "key id"},
		{"secret twice", func(c *Config) {
			c.VERP.Keys = []VERPKeyConf{{ID: "a", Secret: testSecret, SecretEnv: "X"}}
		}, "not both"},
		{"unset env", func(c *Config) {
			c.VERP.Keys = []VERPKeyConf{{ID: "a", SecretEnv: "BOUNCESINK_TEST_UNSET_VARIABLE"}}
		}, "BOUNCESINK_TEST_UNSET_VARIABLE"},
		{"short lifetime", func(c *Config) { c.VERP.Lifetime.Duration = time.Minute }, "verp.lifetime"},
		{"cert without key", func(c *Config) { c.SMTP.TLSCert = "cert.pem" }, "tls_key"},
		{"missing cert files", func(c *Config) { c.SMTP.TLSCert, c.SMTP.TLSKey = "/nonexistent.pem", "/nonexistent.key" }, "tls_cert"},
		{"zero idle timeout", func(c *Config) { c.SMTP.IdleTimeout.Duration = 0 }, "idle_timeout"},
		{"zero connection cap", func(c *Config) { c.SMTP.MaxConnectionsPerIP = 0 }, "max_connections_per_ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.edit(&c)
			if err := c.validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// With require_signed, a forged bounce cannot suppress anyone: unsigned
// return paths are refused at RCPT, and a bounce to a signed one counts for
// the recipient the signature names, whatever the report says.
func TestRequireSignedEndToEnd(t *testing.T) {
	cfg := signedConfig(t)
	clock := stepClock()
	ts := startServer(t, cfg, runOptions{Now: clock})
	const alice, victim = "alice@example.org", "victim@example.com"
	signer, _ := cfg.signer()
	signed, err := signer.Sign("bounces@news.example.com", alice, clock())
	if err != nil {
		t.Fatal(err)
	}

	c := dialSMTP(t, ts.smtp)
	err = send(c, "", returnPath(victim), fixture(t, userUnknown, alice, victim))
	wantSMTPError(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	c.Reset()

	// The report was doctored to name the victim; the signature names alice.
	forged := bytes.ReplaceAll(fixture(t, userUnknown, "", ""), []byte(alice), []byte(victim))
	for i := range 2 {
		bounce(t, ts, signed, nth(forged, i))
	}
	if code := getJSON(t, ts.http+"/v1/recipients/"+victim, nil); code != 404 {
		t.Errorf("GET /v1/recipients/%s = %d, want 404: the forged claim was applied", victim, code)
	}
	if _, ok := suppressed(t, ts, alice); !ok {
		t.Errorf("%s, named by the signature, not suppressed after two hard bounces", alice)
	}
	got := recipient(t, ts, alice)
	if got.Recipient.Counts["hard"] != 2 {
		t.Errorf("%s: counts %v, want 2 hard", alice, got.Recipient.Counts)
	}
}

func TestSTARTTLSFromConfig(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink.example.com"},
		DNSNames: []string{"sink.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	cfg := testConfig(t)
	cfg.SMTP.TLSCert, cfg.SMTP.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cfg.SMTP.TLSCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(cfg.SMTP.TLSKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, cfg, runOptions{})

	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c, err := smtp.DialStartTLS(ts.smtp, &tls.Config{RootCAs: pool, ServerName: "sink.example.com"})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if err := send(c, "", returnPath("alice@example.org"), fixture(t, userUnknown, "", "")); err != nil {
		t.Fatalf("bounce over TLS: %v", err)
	}
	c.Quit()
	recipient(t, ts, "alice@example.org")
}

// On a fresh install (no [verp] keys) serve makes a key file, and
// require_signed = true is all it takes to refuse unsigned return paths;
// keys in the config, when there are any, win over the file.
func TestServeMakesASigningKey(t *testing.T) {
	cfg := testConfig(t)
	cfg.VERP.RequireSigned = true
	if err := cfg.validate(); err != nil {
		t.Fatalf("require_signed without [verp] keys: %v; want it valid (the key file holds the key)", err)
	}
	ts := startServer(t, cfg, runOptions{})
	keyFile := filepath.Join(filepath.Dir(cfg.Store.Path), "verp.keys")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, %v; want one made with mode 0600", keyFile, fi, err)
	}
	keys, err := verp.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := verp.NewSigner(verp.SignerOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign("bounces@news.example.com", "alice@example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bounce(t, ts, signed, fixture(t, userUnknown, "", ""))
	c := dialSMTP(t, ts.smtp)
	wantSMTPError(t, send(c, "", returnPath("alice@example.org"), fixture(t, userUnknown, "", "")), 550, smtp.EnhancedCode{5, 7, 1})
	ts.stop(t)

	// Keys in the config replace the file's, which is left as it is.
	cfg.VERP.Keys = []VERPKeyConf{{ID: "b", Secret: testSecret}}
	ts = startServer(t, cfg, runOptions{})
	c = dialSMTP(t, ts.smtp)
	wantSMTPError(t, send(c, "", signed, fixture(t, userUnknown, "", "")), 550, smtp.EnhancedCode{5, 7, 1})
	if after, _ := verp.ReadKeyFile(keyFile); len(after) != 1 || string(after[0].Secret) != string(keys[0].Secret) {
		t.Errorf("the key file changed: %+v", after)
	}
}
