// Package fakeapps holds FAKES of the mailing software bouncesink's
// webhooks feed (listmonk, Mautic, Keila): HTTP servers built from those
// systems' documented behaviour (and, for listmonk, from what a real
// listmonk 6.2.0 was seen to answer), for the contract tests of the
// webhook formats. None of them is the real thing, which cannot run
// here: each says where its behaviour comes from and what it leaves out.
//
// Every fake logs each request and its answer, whole, through Logf (a
// test's t.Logf): the transcript shows what a format really sends.
package fakeapps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
)

// Logf receives the transcript of each exchange.
type Logf func(format string, args ...any)

// transcript wraps h so that each request and its answer are logged.
func transcript(name string, logf Logf, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		if logf == nil {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s (FAKE) exchange:\n> %s %s %s\n", name, r.Method, r.URL.RequestURI(), r.Proto)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "Accept-Encoding" {
				continue
			}
			fmt.Fprintf(&b, "> %s: %s\n", k, strings.Join(r.Header[k], ", "))
		}
		if len(body) > 0 {
			fmt.Fprintf(&b, ">\n> %s\n", body)
		}
		fmt.Fprintf(&b, "< %d %s\n< Content-Type: %s\n<\n< %s", rec.Code, http.StatusText(rec.Code),
			rec.Header().Get("Content-Type"), bytes.TrimSpace(rec.Body.Bytes()))
		logf("%s", b.String())
	})
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// server is what every fake has: an httptest server and a lock on its state.
type server struct {
	mu  sync.Mutex
	srv *httptest.Server
}

// URL is the fake's root URL.
func (s *server) URL() string { return s.srv.URL }

// Close stops the fake.
func (s *server) Close() { s.srv.Close() }
