package boltstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/bouncesink/bouncesink/store"
)

// A damaged or truncated file is an error that says so (ErrDamaged), not
// a fault or a panic of the whole process.
func TestOpenDamagedFile(t *testing.T) {
	db, path := openTest(t, Options{})
	var msgs []store.Message
	for i := range 300 {
		msgs = append(msgs, bounce(fmt.Sprintf("u%d@example.com", i), "hard", day(float64(i%30))))
	}
	recordMany(t, db, msgs)
	db.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The pages the last transaction wrote; the file may be longer (bbolt
	// grows it ahead), and cutting that slack loses nothing.
	var written int64
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.bolt.View(func(tx *bolt.Tx) error { written = tx.Size(); return nil })
	db.Close()
	if len(good) < 64<<10 {
		t.Fatalf("the file is %d bytes: too small to cut", len(good))
	}
	garbage := func(b []byte, from, n int) []byte {
		b = append([]byte(nil), b...)
		r := rand.New(rand.NewPCG(1, uint64(from)))
		for i := from; i < from+n && i < len(b); i++ {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	zero := func(b []byte, from, n int) []byte {
		b = append([]byte(nil), b...)
		clear(b[from:min(from+n, len(b))])
		return b
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"truncated to half", good[:len(good)/2]},
		{"truncated by one written page", good[:written-4096]},
		{"truncated inside the meta pages", good[:5000]},
		{"both meta pages overwritten", garbage(good, 0, 8192)},
		// bbolt checks the pages it reaches when it opens a file for
		// writing, from a goroutine of its own: a failed check there
		// would end the process.
		{"every page after the meta pages overwritten", garbage(good, 8192, int(written))},
		{"pages in the middle zeroed", zero(good, int(written)/2, 4*4096)},
		{"not a database", []byte("this is a text file, not a database\n")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "damaged.db")
			if err := os.WriteFile(p, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := Open(p, Options{})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("Open = %v, want ErrDamaged", err)
			}
		})
	}
	// The intact file still opens.
	p := filepath.Join(t.TempDir(), "good.db")
	os.WriteFile(p, good, 0o600)
	db, err = Open(p, Options{})
	if err != nil {
		t.Fatalf("the intact copy: %v", err)
	}
	db.Close()
}
