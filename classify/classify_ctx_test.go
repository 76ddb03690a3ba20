package classify

import (
	"context"
	"os"
	"testing"
)

// A cancelled context stops classification before any decoder runs and says
// so in the evidence, where the same message otherwise gets its real verdict.
func TestClassifyContextCancelled(t *testing.T) {
	raw, err := os.ReadFile("../testdata/smtp/postfix-user-unknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	in := Input{EnvelopeRecipient: "bounces@localhost"}
	if vs := ClassifyContext(context.Background(), raw, in); vs[0].Class != Hard {
		t.Fatalf("uncancelled: class %s, want hard", vs[0].Class)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	vs := ClassifyContext(ctx, raw, in)
	if len(vs) != 1 || vs[0].Class != Unknown || vs[0].Evidence.Rule != "cancelled" {
		t.Fatalf("cancelled: got %+v, want one unknown verdict with rule cancelled", vs)
	}
}
