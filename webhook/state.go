package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// state keeps, per endpoint name, the sequence number of the last audit
// entry dealt with (delivered or dead-lettered), in a small JSON file
// written whole and renamed into place after each, so a crash leaves the
// old file or the new one; and the dead-letter lists, in a second file
// written the same way when one grows. A position that lags behind (a
// crash before a save) only means entries are sent again: the delivery is
// at least once. A dead letter is saved before the position moves past
// it.
type state struct {
	path, deadPath string
	mu             sync.Mutex
	f              positionFile
	d              deadFile
}

type positionFile struct {
	Endpoints map[string]uint64 `json:"endpoints"` // name -> last seq dealt with
}

type deadFile struct {
	DeadLetters map[string][]DeadLetter `json:"dead_letters"` // name -> the latest MaxDeadLetters, oldest first
	Total       map[string]int          `json:"total"`        // name -> all ever
}

// MaxDeadLetters is how many dead letters the state keeps per endpoint;
// older ones are dropped (the audit trail keeps every entry, and the count
// of all of them stays).
const MaxDeadLetters = 1000

// DeadLetter is an entry an endpoint rejected for good, and why.
type DeadLetter struct {
	Endpoint string    `json:"endpoint"`
	Seq      uint64    `json:"seq"` // of the audit entry
	Address  string    `json:"address"`
	Event    string    `json:"event"`
	Time     time.Time `json:"time"` // when it was given up
	Status   int       `json:"status"`
	Error    string    `json:"error"` // what the endpoint answered
	Attempts int       `json:"attempts"`
}

// loadState reads the files (none is an empty state) and moves the
// positions an older version kept under an endpoint's URL to its name:
// urls maps each configured endpoint's name to its URL.
func loadState(path, deadPath string, urls map[string]string) (*state, error) {
	s := &state{path: path, deadPath: deadPath, f: positionFile{Endpoints: map[string]uint64{}},
		d: deadFile{DeadLetters: map[string][]DeadLetter{}, Total: map[string]int{}}}
	if err := readJSON(path, &s.f); err != nil {
		return nil, err
	}
	if err := readJSON(deadPath, &s.d); err != nil {
		return nil, err
	}
	if s.f.Endpoints == nil {
		s.f.Endpoints = map[string]uint64{}
	}
	if s.d.DeadLetters == nil {
		s.d.DeadLetters = map[string][]DeadLetter{}
	}
	if s.d.Total == nil {
		s.d.Total = map[string]int{}
	}
	migrated := false
	for name, u := range urls {
		if seq, ok := s.f.Endpoints[u]; ok && u != name {
			if _, have := s.f.Endpoints[name]; !have {
				s.f.Endpoints[name] = seq
			}
			delete(s.f.Endpoints, u) // the URL may hold a secret
			migrated = true
		}
	}
	if migrated {
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// readJSON decodes the file at path into v; a missing file leaves v be.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("webhook: state: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("webhook: state %s: %w", path, err)
	}
	return nil
}

func (s *state) position(name string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Endpoints[name]
}

// advance records name's position and writes the file.
func (s *state) advance(name string, seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.Endpoints[name] = seq
	return s.save()
}

// deadLetter adds dl to its endpoint's list and writes the file (before
// the endpoint's position moves past it).
func (s *state) deadLetter(dl DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := append(s.d.DeadLetters[dl.Endpoint], dl)
	if len(list) > MaxDeadLetters {
		list = slices.Delete(list, 0, len(list)-MaxDeadLetters)
	}
	s.d.DeadLetters[dl.Endpoint] = list
	s.d.Total[dl.Endpoint]++
	return writeJSON(s.deadPath, s.d)
}

// deadLetters returns name's dead letters newest first ("" for every
// endpoint's), at most limit, and how many there were in all.
func (s *state) deadLetters(name string, limit int) ([]DeadLetter, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeadLetter
	total := 0
	for n, list := range s.d.DeadLetters {
		if name == "" || n == name {
			out = append(out, list...)
			total += s.d.Total[n]
		}
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return b.Time.Compare(a.Time) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, total
}

func (s *state) deadCount(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.Total[name]
}

// save writes the positions; s.mu is held.
func (s *state) save() error { return writeJSON(s.path, s.f) }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("webhook: state: %w", err)
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("webhook: state: %w", err)
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
