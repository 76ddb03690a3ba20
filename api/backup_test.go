package api

import (
	"net/http"
	"strings"
	"testing"
)

// An engine that cannot back itself up (PostgreSQL: pg_dump) answers 501
// with a JSON error that says what to use.
func TestBackupUnsupportedEngine(t *testing.T) {
	var e struct {
		Error string `json:"error"`
	}
	rr := do(t, handler(t, newFake(), Options{}), http.MethodGet, "/v1/backup", "", &e)
	if rr.Code != http.StatusNotImplemented || !strings.Contains(e.Error, "pg_dump") {
		t.Errorf("GET /v1/backup = %d %q, want 501 naming pg_dump", rr.Code, e.Error)
	}
}
