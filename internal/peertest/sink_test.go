package peertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/internal/testbin"
)

// sinkDomain is the return-path domain the sink accepts.
const sinkDomain = "bounce.example.com"

// sink is a running "bouncesink serve", built from this checkout.
type sink struct {
	smtp string // host:port
	http string // base URL

	mu  sync.Mutex
	log strings.Builder
}

// startSink builds cmd/bouncesink (as it ships, without -race) and serves
// from a database in dir on loopback ports the kernel picks, accepting
// every address @sinkDomain. It waits for the log line that names the
// listen addresses; a cleanup stops it with SIGTERM.
func startSink(t *testing.T, dir string) *sink {
	t.Helper()
	bin := testbin.Bouncesink(t, dir)
	cfg := filepath.Join(dir, "bouncesink.toml")
	conf := fmt.Sprintf("[smtp]\nhostname = %q\naccept = [%q]\n", "sink.example.com", "@"+sinkDomain)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg,
		"--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", filepath.Join(dir, "bouncesink.db"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	ready := make(chan [2]string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		started := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m, h, ok := testbin.Started(line); !started && ok {
				started = true
				ready <- [2]string{m, h}
			}
		}
		io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("bouncesink exited with %v on SIGTERM", err)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Errorf("bouncesink still running 30s after SIGTERM")
			}
		}
		if t.Failed() {
			t.Logf("bouncesink's log:\n%s", s.logText())
		}
	})
	select {
	case a := <-ready:
		s.smtp, s.http = a[0], "http://"+a[1]
	case err := <-exited:
		stopped = true
		t.Fatalf("bouncesink exited at start (%v); its log:\n%s", err, s.logText())
	case <-time.After(time.Minute):
		t.Fatalf("no %q log line with smtp= and http= within a minute", "bouncesink started")
	}
	return s
}

func (s *sink) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// event is the part of a recipient's history entry (GET
// /v1/recipients/ADDR) the test looks at.
type event struct {
	MessageID  uint64 `json:"message_id"`
	Recipient  string `json:"recipient"`
	Class      string `json:"class"`
	Reason     string `json:"reason"`
	Status     string `json:"status"`
	SMTPCode   int    `json:"smtp_code"`
	Action     string `json:"action"`
	Diagnostic string `json:"diagnostic"`
	RemoteMTA  string `json:"remote_mta"`
	Decoder    string `json:"decoder"`
	Rule       string `json:"rule"`
}

type recipient struct {
	Recipient struct {
		Address    string `json:"address"`
		Suppressed bool   `json:"suppressed"`
	} `json:"recipient"`
	Events []event `json:"events"`
}

// recipient asks the API for addr's state and history; found is false on
// a 404 (nothing recorded for it).
func (s *sink) recipient(t *testing.T, addr string) (r recipient, found bool) {
	t.Helper()
	status, body := s.get(t, "/v1/recipients/"+url.PathEscape(addr))
	switch status {
	case http.StatusNotFound:
		return r, false
	case http.StatusOK:
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("GET /v1/recipients/%s: %v in %.300q", addr, err, body)
		}
		return r, true
	}
	t.Fatalf("GET /v1/recipients/%s: %d %.300q", addr, status, body)
	return r, false
}

// rawMessage fetches a stored message as received, from the admin page
// (open without a token on loopback).
func (s *sink) rawMessage(t *testing.T, id uint64) []byte {
	t.Helper()
	path := fmt.Sprintf("/admin/message/%d/raw", id)
	status, body := s.get(t, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %.300q", path, status, body)
	}
	return body
}

func (s *sink) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(s.http + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}
