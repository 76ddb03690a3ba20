package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bouncesink/bouncesink/verp"
)

// Signing works out of the box: with no [verp] keys in the config, the
// keys live in a key file beside the database (verp.key_file), which serve
// creates at its first start. Keys in the config, when there are any, win
// and the file is not read.

// keyFile is where the keys live when the config names none.
func (c Config) keyFile() string {
	if c.VERP.KeyFile != "" {
		return c.VERP.KeyFile
	}
	return filepath.Join(filepath.Dir(c.Store.Path), "verp.keys")
}

// keySigner returns the signer of the config's keys, or else of the key
// file's, creating the file first when create is set and it does not
// exist (without create, a missing file means no signer: nil). It logs
// where the keys came from, and how to keep a new file.
func (c Config) keySigner(create bool, log *slog.Logger) (*verp.Signer, error) {
	if s, err := c.signer(); s != nil || err != nil {
		return s, err
	}
	path := c.keyFile()
	keys, err := verp.ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		var k verp.Key
		if k, err = verp.CreateKeyFile(path); err != nil {
			return nil, fmt.Errorf("verp: no [verp] keys, and the key file could not be made: %w", err)
		}
		keys = []verp.Key{k}
		log.Warn("created a VERP signing key, since [verp] keys is empty: back the file up with the database "+
			"(the return paths senders hand out verify only with it); to rotate, add a line \"ID SECRET\" at its top "+
			"and delete the old line after verp.lifetime, or move the keys to [verp] keys",
			"key_file", path, "key_id", k.ID, "mode", "0600")
	}
	if err != nil {
		return nil, fmt.Errorf("verp: no [verp] keys: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the VERP key file is readable by others: anyone who reads it can forge bounces; chmod 600 it",
			"key_file", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	s, err := verp.NewSigner(verp.SignerOptions{Keys: keys, Lifetime: c.VERP.Lifetime.Duration, Separator: c.SMTP.VERPSeparator})
	if err != nil {
		return nil, fmt.Errorf("verp: key file %s: %w", path, err)
	}
	log.Info("verp signing keys", "key_file", path, "keys", len(keys), "signing_key", keys[0].ID)
	return s, nil
}
