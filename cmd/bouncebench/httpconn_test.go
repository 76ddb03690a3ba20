package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The lookup client reads answers of every framing net/http's server
// uses, keeps the connection alive between them, and redials after the
// server closes it.
func TestHTTPConn(t *testing.T) {
	var dials atomic.Int32 // the server counts its connections on its own goroutines
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Write([]byte(`{"address":"a@example.com"}`))
		case "/chunked":
			w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush() // headers go before the length is known: chunks
			w.Write([]byte(strings.Repeat("y", 100)))
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusNotFound)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := &httpConn{addr: srv.Listener.Addr().String()}
	defer c.close()
	for _, step := range []struct {
		path  string
		want  int
		dials int32
	}{
		{"/length", 200, 1},
		{"/chunked", 200, 1},
		{"/length", 200, 1},
		{"/close", 404, 1},
		{"/length", 200, 2},
	} {
		got, err := c.get(step.path)
		if err != nil || got != step.want {
			t.Fatalf("GET %s: %d, %v; want %d", step.path, got, err, step.want)
		}
		if n := dials.Load(); n != step.dials {
			t.Errorf("after GET %s: %d connections, want %d", step.path, n, step.dials)
		}
	}
}
