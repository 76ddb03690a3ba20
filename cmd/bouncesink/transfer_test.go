package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// apiServer serves the API over a store in a temporary directory.
func apiServer(t *testing.T) (*httptest.Server, *boltstore.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bouncesink.db")
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewHandler(db, api.Options{}))
	t.Cleanup(func() { srv.Close(); db.Close() })
	return srv, db, path
}

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := dispatch(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestImportAndExportCommands(t *testing.T) {
	srv, db, path := apiServer(t)
	code, out, errs := runCLI("import", "--api", srv.URL, "../../testdata/import/postmark.csv")
	if code != 0 || !strings.Contains(out, "postmark: 3 rows: 3 imported, 0 already suppressed, 0 rejected") {
		t.Errorf("import = %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI("import", "--api", srv.URL, "--source", "old-esp", "../../testdata/import/rejects.csv")
	if code != 1 || !strings.Contains(out, "old-esp: 8 rows: 2 imported, 1 already suppressed, 5 rejected") ||
		!strings.Contains(out, "line 5: time \"yesterday\" not understood") {
		t.Errorf("import of rejects = %d %q", code, out)
	}

	code, out, errs = runCLI("export", "--api", srv.URL, "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "address,reason,detail,since\n") || strings.Count(out, "\n") != 6 ||
		!strings.Contains(out, "hard@postmark.example,import,postmark:hardbounce,2025-11-03T13:15:30Z\n") {
		t.Errorf("export = %d %q %q", code, out, errs)
	}
	apiOut := out

	// With the server stopped, the same from the file.
	srv.Close()
	db.Close()
	file := filepath.Join(t.TempDir(), "out.csv")
	if code, _, errs := runCLI("export", "--db", path, "--output", file); code != 0 {
		t.Fatalf("export --db = %d %q", code, errs)
	}
	if data, _ := os.ReadFile(file); string(data) != apiOut {
		t.Errorf("export --db wrote\n%s\nwant what the API gave\n%s", data, apiOut)
	}
	if code, _, errs := runCLI("import", "--api", srv.URL, "../../testdata/import/ses.csv"); code != 2 || errs == "" {
		t.Errorf("import with no server = %d %q, want 2 and an error", code, errs)
	}
}

// A large file shows its progress on stderr.
func TestImportProgress(t *testing.T) {
	srv, db, _ := apiServer(t)
	var b strings.Builder
	b.WriteString("EmailAddress,Reason,LastUpdateTime\n")
	const rows = 30000
	for i := range rows {
		fmt.Fprintf(&b, "someone.with.a.longish.name%06d@example.com,BOUNCE,2025-11-03T08:15:30Z\n", i)
	}
	file := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("import", "--api", srv.URL, file)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d imported", rows)) {
		t.Fatalf("import = %d %q %q", code, out, errs)
	}
	if !strings.Contains(errs, "import [") || !strings.Contains(errs, "(100%)") {
		t.Errorf("progress %q, want a bar reaching 100%%", errs)
	}
	st, err := db.Stats(t.Context())
	if err != nil || st.SuppressedByReason["import"] != rows {
		t.Errorf("stats after import %+v, %v", st, err)
	}
}
