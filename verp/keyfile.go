package verp

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Key files
//
// A key file holds signing keys, one per line as "ID SECRET", newest
// (signing) first, as SignerOptions.Keys lists them; blank lines and lines
// starting with # are ignored. The secret is used as written, its bytes
// being the key, so a line "a s3cr3t..." is the same key as the config
// entry { id = "a", secret = "s3cr3t..." }. bouncesink creates one on its
// first start when its configuration names no keys, so that signing works
// on a fresh install; a sender reads it with ReadKeyFile.

// keyFileHeader opens every key file CreateKeyFile writes.
const keyFileHeader = `# bouncesink VERP signing keys: one "ID SECRET" per line, newest first.
# The first key signs, every key verifies. To rotate, add a new line at the
# top and delete the old one once verp.lifetime has passed. Keep this file
# private (mode 0600) and back it up with the database: the return paths
# senders have handed out only verify with these keys.
`

// ReadKeyFile reads the keys of a key file, in order.
func ReadKeyFile(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verp: key file: %w", err)
	}
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, " ")
		secret = strings.TrimSpace(secret)
		if !ok || !validKeyID(id) || len(secret) < minSecretLen || strings.ContainsAny(secret, " \t") {
			return nil, fmt.Errorf("verp: key file %s line %d: want \"ID SECRET\" (id 1 to %d of a-z and 0-9, secret at least %d characters)",
				path, n, maxKeyIDLen, minSecretLen)
		}
		keys = append(keys, Key{ID: id, Secret: []byte(secret)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("verp: key file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("verp: key file %s: no keys", path)
	}
	return keys, nil
}

// CreateKeyFile writes a new key file at path holding one key, id "a",
// with a secret of 32 random bytes in base64, and returns the key. The
// file is created with mode 0600 (its directory, if missing, with 0700)
// and synced to disk before CreateKeyFile returns; it fails with an error
// wrapping fs.ErrExist rather than replace a file already there.
func CreateKeyFile(path string) (Key, error) {
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand since Go 1.24)
	k := Key{ID: "a", Secret: []byte(base64.StdEncoding.EncodeToString(raw[:]))}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Key{}, fmt.Errorf("verp: key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Key{}, fmt.Errorf("verp: key file: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s%s %s\n", keyFileHeader, k.ID, k.Secret)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		os.Remove(path) // half written: the next start makes a new one
		return Key{}, fmt.Errorf("verp: key file: %w", err)
	}
	return k, nil
}
