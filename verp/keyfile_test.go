package verp

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "verp.keys")
	k, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := CreateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("creating it again: %v, want fs.ErrExist (never replace a key in use)", err)
	}
	keys, err := ReadKeyFile(path)
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || string(keys[0].Secret) != string(k.Secret) {
		t.Fatalf("ReadKeyFile = %+v, %v; want the key created, %+v", keys, err, k)
	}
	// The key signs, and a signer built from the same secret as a config
	// entry would be verifies it.
	s := signer(t, keys...)
	addr, err := s.Sign("bounces@bounce.example.com", "alice@example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer(t, Key{ID: "a", Secret: []byte(string(k.Secret))}).Verify(addr, now); err != nil {
		t.Errorf("Verify with the same secret: %v", err)
	}
}

func TestReadKeyFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verp.keys")
	os.WriteFile(path, []byte("# comment\n\nb2 0123456789abcdef-key-b\na  0123456789abcdef-key-a\n"), 0o600)
	keys, err := ReadKeyFile(path)
	if err != nil || len(keys) != 2 || keys[0].ID != "b2" || string(keys[1].Secret) != "0123456789abcdef-key-a" {
		t.Fatalf("ReadKeyFile = %+v, %v; want b2 then a", keys, err)
	}
	for _, bad := range []string{"", "# only a comment\n", "a short\n", "A 0123456789abcdef\n", "a\n", "a 0123456789 abcdef-xx\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if keys, err := ReadKeyFile(path); err == nil {
			t.Errorf("ReadKeyFile(%q) = %+v, want an error", bad, keys)
		}
	}
}
