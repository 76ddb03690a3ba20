package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tokens of real entropy (256 bits each, as `openssl rand -hex 32` makes).
const (
	testReadToken  = "5f0c7a1e9b3d48f2a6c1e07d93b4f5a28c6e1d0b7f3a9e452d8c1b6f0e7a3d94"
	testAdminToken = "c2e9a4f7d1b0836e5a9c2f4d7e1b08a3f6c9d2e5b8a1f4c7d0e3b6a9f2c5d8e1"
)

// bouncesink check sends a token from --token or $BOUNCESINK_TOKEN, so it
// works against a server with tokens (README's example against a server
// that is not on loopback).
func TestCheckCommandToken(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.Tokens = []TokenConfig{
		{Name: "mailer", Role: "read", Token: testReadToken},
		{Name: "ops", Role: "admin", Token: testAdminToken},
	}
	ts := startServer(t, cfg, runOptions{})
	if code, body := doHTTP(t, "PUT", ts.http+"/v1/suppressions/alice@example.org", testAdminToken, nil); code != 201 {
		t.Fatalf("PUT = %d %s", code, body)
	}

	code, out, errs := runCLI("check", "--api", ts.http, "alice@example.org")
	if code != 2 || !strings.Contains(errs, "401") {
		t.Errorf("check without a token = %d %q %q, want 2 and the 401", code, out, errs)
	}
	code, out, errs = runCLI("check", "--api", ts.http, "--token", testReadToken, "alice@example.org", "bob@example.org")
	if code != 1 || !strings.Contains(out, "alice@example.org\tsuppressed\treason=manual") || !strings.Contains(out, "bob@example.org\tok") {
		t.Errorf("check --token = %d %q %q, want 1 with alice suppressed", code, out, errs)
	}
	t.Setenv("BOUNCESINK_TOKEN", testReadToken)
	code, out, errs = runCLI("check", "--api", ts.http, "bob@example.org")
	if code != 0 || !strings.Contains(out, "bob@example.org\tok") {
		t.Errorf("check with $BOUNCESINK_TOKEN = %d %q %q, want 0", code, out, errs)
	}
}

// export --output creates a file only its owner can read, and makes an
// existing one so: the list is personal data.
func TestExportOutputIsPrivate(t *testing.T) {
	srv, _, _ := apiServer(t)
	dir := t.TempDir()
	fresh, existing := filepath.Join(dir, "fresh.csv"), filepath.Join(dir, "existing.csv")
	if err := os.WriteFile(existing, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{fresh, existing} {
		if code, _, errs := runCLI("export", "--api", srv.URL, "--output", file); code != 0 {
			t.Fatalf("export --output %s = %d %q", file, code, errs)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(file), mode)
		}
		if data, _ := os.ReadFile(file); string(data) != "address,reason,detail,since\n" {
			t.Errorf("%s holds %q, want the header of an empty list", filepath.Base(file), data)
		}
	}
}
