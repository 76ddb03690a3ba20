package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc describes every route of routes(); TestOpenAPIMatchesRoutes
// fails when the two disagree. It is written by hand: the document is for
// people as much as for code generators.
//
//go:embed openapi.json
var openAPIDoc []byte

// serveOpenAPI answers GET /v1/openapi.json.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(openAPIDoc)
}
