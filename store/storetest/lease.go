package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// One instance at a time holds a webhook endpoint's lease; the next one
// takes it over when it is released or its holder closes, and resumes at
// the cursor the first one saved.
func testEndpointLeases(t *testing.T, h Harness) {
	a, o := openWith(t, h, Options{})
	b := reopen(t, o, Options{})
	la, ok := a.(store.EndpointLeaser)
	if !ok {
		t.Fatal("an engine shared by several instances must implement store.EndpointLeaser")
	}
	lb := b.(store.EndpointLeaser)
	ctx := context.Background()
	const url = "https://lists.example.com/hook"
	first, err := la.LeaseEndpoint(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if seq, err := first.Cursor(ctx); err != nil || seq != 0 {
		t.Errorf("cursor of a new endpoint = %d, %v; want 0", seq, err)
	}
	if err := first.SetCursor(ctx, 7); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = lb.LeaseEndpoint(short, url)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second instance leased a held endpoint: %v", err)
	}
	// Another endpoint is free.
	other, err := lb.LeaseEndpoint(ctx, "https://other.example.com/hook")
	if err != nil {
		t.Fatal(err)
	}
	other.Release()

	first.Release()
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	second, err := lb.LeaseEndpoint(wait, url)
	if err != nil {
		t.Fatalf("lease after release: %v", err)
	}
	if seq, err := second.Cursor(ctx); err != nil || seq != 7 {
		t.Errorf("cursor after takeover = %d, %v; want 7", seq, err)
	}
	// The holder closing gives the lease up too.
	b.Close()
	select {
	case <-second.Lost():
	case <-time.After(10 * time.Second):
		t.Error("the lease of a closed store is not lost")
	}
	if err := second.SetCursor(ctx, 9); err == nil {
		t.Error("SetCursor on a lost lease succeeded")
	}
	third, err := la.LeaseEndpoint(wait, url)
	if err != nil {
		t.Fatalf("lease after the holder closed: %v", err)
	}
	third.Release()
}
