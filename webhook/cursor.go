package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// cursors keeps, per endpoint URL, the sequence number of the last audit
// entry delivered, in a small JSON file written whole and renamed into
// place, so a crash leaves the old file or the new one. A cursor that lags
// behind (a crash before a save) only means entries are sent again: the
// delivery is at least once.
type cursors struct {
	path string
	mu   sync.Mutex
	seq  map[string]uint64
}

type cursorFile struct {
	Endpoints map[string]uint64 `json:"endpoints"` // URL -> last delivered audit seq
}

func loadCursors(path string) (*cursors, error) {
	c := &cursors{path: path, seq: map[string]uint64{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: cursors: %w", err)
	}
	var f cursorFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("webhook: cursors %s: %w", path, err)
	}
	for url, seq := range f.Endpoints {
		c.seq[url] = seq
	}
	return c, nil
}

func (c *cursors) get(url string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq[url]
}

// set records url's cursor and writes the file.
func (c *cursors) set(url string, seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq[url] = seq
	b, err := json.MarshalIndent(cursorFile{Endpoints: c.seq}, "", "  ")
	if err != nil {
		return fmt.Errorf("webhook: cursors: %w", err)
	}
	if err := writeFileAtomic(c.path, append(b, '\n')); err != nil {
		return fmt.Errorf("webhook: cursors: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
