package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/bouncesink/bouncesink/store"
)

// bouncesink lift: --dry-run shows the count and the first addresses and
// lifts nothing; without it, it lifts them; no note or no filter is a
// usage error.
func TestLiftCommand(t *testing.T) {
	srv, db, _ := apiServer(t)
	ctx := context.Background()
	if code, out, errs := runCLI("import", "--api", srv.URL, "../../testdata/import/ses.csv"); code != 0 {
		t.Fatalf("import = %d %q %q", code, out, errs)
	}
	if _, err := db.Suppress(ctx, "keep@example.org", "asked", ""); err != nil {
		t.Fatal(err)
	}
	before := len(suppressedAll(t, db))

	if code, _, errs := runCLI("lift", "--api", srv.URL, "--source", "import"); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("lift without a note = %d %q, want a usage error", code, errs)
	}
	if code, _, errs := runCLI("lift", "--api", srv.URL, "--note", "x"); code != 2 || !strings.Contains(errs, "set at least one field") {
		t.Errorf("lift without a filter = %d %q, want the server's refusal", code, errs)
	}
	code, out, errs := runCLI("lift", "--api", srv.URL, "--source", "import", "--note", "wrong file imported", "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run: "+strconv.Itoa(before-1)+" suppressions match") || !strings.Contains(out, "the first ") {
		t.Errorf("lift --dry-run = %d %q %q", code, out, errs)
	}
	if n := len(suppressedAll(t, db)); n != before {
		t.Fatalf("the dry run changed the list: %d suppressions, want %d", n, before)
	}
	code, out, errs = runCLI("lift", "--api", srv.URL, "--source", "import", "--note", "wrong file imported")
	if code != 0 || !strings.Contains(out, "lifted "+strconv.Itoa(before-1)+" of "+strconv.Itoa(before-1)+" matching suppressions") {
		t.Errorf("lift = %d %q %q", code, out, errs)
	}
	if list := suppressedAll(t, db); len(list) != 1 || list[0].Address != "keep@example.org" {
		t.Errorf("after the lift: %+v, want only the manual one", list)
	}
}

func suppressedAll(t *testing.T, db store.Store) []store.Suppression {
	t.Helper()
	list, err := db.Suppressions(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
