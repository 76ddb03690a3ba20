package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// smallBuffers makes every accepted connection's send buffer small, so a
// server writing to a client that does not read blocks at once instead of
// filling megabytes of kernel buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
		tc.SetReadBuffer(4096)
	}
	return c, err
}

// slowClient is an HTTP client whose sockets have small buffers too.
func slowClient() *http.Client {
	d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		})
		return nil
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// deadlineServer serves the API over a store of n suppressions with the
// server's whole-request timeouts cut to timeout.
func deadlineServer(t *testing.T, n int, timeout time.Duration) (*httptest.Server, *boltstore.DB) {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "bouncesink.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var list []store.ManualSuppression
	for i := range n {
		list = append(list, store.ManualSuppression{Address: fmt.Sprintf("someone-%06d@example.org", i), Detail: "test"})
		if len(list) == 1000 || i == n-1 {
			if _, err := db.SuppressMany(context.Background(), "test", list); err != nil {
				t.Fatal(err)
			}
			list = list[:0]
		}
	}
	srv := httptest.NewUnstartedServer(NewHandler(db, Options{Logger: testlog.New(t)}))
	srv.Listener = smallBuffers{srv.Listener}
	srv.Config.ReadTimeout = timeout
	srv.Config.WriteTimeout = timeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, db
}

// An export that takes longer than the server's write timeout is not cut
// short: the handler renews the deadline page by page through
// http.ResponseController, which must reach the connection through the
// API's response wrappers.
func TestExportOutlivesWriteTimeout(t *testing.T) {
	const n = 3000
	srv, _ := deadlineServer(t, n, 300*time.Millisecond)
	resp, err := slowClient().Get(srv.URL + "/v1/export?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(time.Second) // a slow reader: the server blocks past its write timeout
	rows := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rows++
	}
	if err := sc.Err(); err != nil || rows != n+1 {
		t.Errorf("export read %d lines (err %v), want the header and %d rows", rows, err, n)
	}
}

// An upload that takes longer than the server's read timeout is imported
// whole: the handler renews the read deadline after each chunk.
func TestImportOutlivesReadTimeout(t *testing.T) {
	srv, db := deadlineServer(t, 0, 300*time.Millisecond)
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprintln(pw, "address,reason,detail,since")
		for i := range 3000 {
			if i == 1500 {
				time.Sleep(time.Second) // a slow upload
			}
			fmt.Fprintf(pw, "slow-%04d@example.org,manual,test,2026-01-02T03:04:05Z\n", i)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/import", pr)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := slowClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"rows":3000`) {
		t.Errorf("slow import = %d %s, want all 3000 rows", resp.StatusCode, body)
	}
	st, err := db.Stats(context.Background())
	if err != nil || st.Suppressed != 3000 {
		t.Errorf("after the slow import %d suppressed (err %v), want 3000", st.Suppressed, err)
	}
}
