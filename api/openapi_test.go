package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// openAPIOperations reads the document's operations as "METHOD /path",
// and whether each declares itself public (an empty security list).
func openAPIOperations(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: version %q, want 3.x", doc.OpenAPI)
	}
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "parameters", "summary", "description", "servers":
				continue
			}
			var op struct {
				Security *[]json.RawMessage `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("openapi.json: %s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op.Security != nil && len(*op.Security) == 0
		}
	}
	return ops
}

// The document and the routes the handler serves must name the same
// operations, and agree on which need no token.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	documented := openAPIOperations(t)
	served := map[string]bool{}
	for _, rt := range newAPI(newFake(), Options{}).routes() {
		op := rt.method + " " + rt.path
		served[op] = true
		public, ok := documented[op]
		switch {
		case !ok:
			t.Errorf("%s is served but missing from openapi.json", op)
		case public != (rt.role == rolePublic):
			t.Errorf("%s: openapi.json says public=%v, the route table role %q", op, public, rt.role)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in openapi.json but not served", op)
		}
	}
}

// The document is served, as JSON, without a token.
func TestOpenAPIServed(t *testing.T) {
	auth, err := NewAuth([]Token{{Name: "mailer", Role: RoleRead, Value: readToken}})
	if err != nil {
		t.Fatal(err)
	}
	h := handler(t, newFake(), Options{Auth: auth})
	var doc map[string]any
	rec := do(t, h, "GET", "/v1/openapi.json", "", &doc)
	if rec.Code != http.StatusOK || doc["openapi"] == nil {
		t.Fatalf("GET /v1/openapi.json = %d %.200s", rec.Code, rec.Body)
	}
	paths, _ := doc["paths"].(map[string]any)
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	if !slices.Contains(keys, "/v1/check") {
		t.Errorf("served document lacks /v1/check: %v", keys)
	}
}
