package boltstore

import (
	"github.com/bouncesink/bouncesink/store"
	"testing"
)

func TestOpenValidatesPolicy(t *testing.T) {
	p := store.DefaultPolicy()
	p.HardWindow = 0
	if db, err := Open(t.TempDir()+"/db", Options{Policy: p}); err == nil {
		db.Close()
		t.Errorf("Open accepted policy %+v", p)
	}
}
