package multihost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/internal/bouncegen"
	"github.com/bouncesink/bouncesink/internal/pgtest"
	"github.com/bouncesink/bouncesink/internal/testbin"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// instance is one bouncesink serve process.
type instance struct {
	cmd        *exec.Cmd
	smtp, http string
	exited     chan struct{}
	log        *bytes.Buffer
	mu         sync.Mutex
}

func launch(t *testing.T, bin, config, name string) *instance {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", config, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, exited: make(chan struct{}), log: &bytes.Buffer{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			in.mu.Lock()
			fmt.Fprintf(in.log, "%s: %s\n", name, line)
			in.mu.Unlock()
			if in.smtp == "" {
				if s, h, ok := testbin.Started(line); ok {
					in.smtp, in.http = s, h
					close(ready)
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(in.exited)
	}()
	select {
	case <-ready:
	case <-in.exited:
		t.Fatalf("%s exited at start:\n%s", name, in.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start:\n%s", name, in.logText())
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-in.exited
	})
	return in
}

func (in *instance) logText() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

func (in *instance) kill() {
	in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.exited
}

// attempt is one message a client tried to deliver.
type attempt struct {
	rcpt, verp string
	acked      bool
	host       int
}

// receiver is a webhook endpoint that records what it gets and how many
// requests are in flight at once.
type receiver struct {
	mu       sync.Mutex
	seqs     []uint64
	inFlight atomic.Int32
	maxInFl  atomic.Int32
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := rc.inFlight.Add(1)
	defer rc.inFlight.Add(-1)
	for {
		m := rc.maxInFl.Load()
		if n <= m || rc.maxInFl.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(2 * time.Millisecond) // widen the window a second sender would hit
	seq, _ := strconv.ParseUint(r.Header.Get("X-Bouncesink-Delivery"), 10, 64)
	io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	rc.seqs = append(rc.seqs, seq)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// sendOne delivers msg over a connection of its own.
func sendOne(addr, rcpt string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail("", []string{rcpt}, bytes.NewReader(msg)); err != nil {
		return err
	}
	c.Quit() // the 250 to DATA was the acknowledgement
	return nil
}

func TestTwoHostsOneDatabase(t *testing.T) {
	dsn := pgtest.Database(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin := testbin.Bouncesink(t, dir)
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	config := filepath.Join(dir, "bouncesink.toml")
	conf := fmt.Sprintf(`[store]
engine = "postgres"
dsn_env = "TEST_BOUNCESINK_DSN"
path = %q

[verp]
keys = [{ id = "k1", secret = "a shared secret of the two hosts, 32 bytes or more" }]

[[webhooks]]
url = %q
secret = "a webhook secret of 16 or more"
`, filepath.Join(dir, "data", "bouncesink.db"), hook.URL)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_BOUNCESINK_DSN", dsn)
	hosts := []*instance{launch(t, bin, config, "a"), launch(t, bin, config, "b")}

	// Load: senders to both hosts; a quarter of the messages report the
	// same address, the rest an address each.
	const perSender, senders = 60, 6
	var (
		mu       sync.Mutex
		attempts []attempt
		killed   atomic.Bool
		wg       sync.WaitGroup
		sent     atomic.Int32
	)
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				host := (s + i) % 2
				if killed.Load() {
					host = 1
				}
				mu.Lock()
				id := len(attempts)
				rcpt := fmt.Sprintf("user%05d@example.org", id)
				kind := bouncegen.Mixed(id)
				if id%4 == 0 {
					rcpt, kind = "shared@example.org", bouncegen.Hard
				}
				// A return path of its own per attempt, to find its message
				// by; plain, since a VERP tag would name the recipient the
				// verdict counts for (the return path outranks the report).
				verp := fmt.Sprintf("bounces-%05d@localhost", id)
				attempts = append(attempts, attempt{rcpt: rcpt, verp: verp, host: host})
				mu.Unlock()
				msg := bouncegen.Message(kind, rcpt, verp, id, at)
				err := sendOne(hosts[host].smtp, verp, msg)
				if err != nil && id < 3 {
					t.Logf("attempt %d: %v", id, err)
				}
				if err == nil {
					mu.Lock()
					attempts[id].acked = true
					mu.Unlock()
				}
				sent.Add(1)
			}
		})
	}
	for sent.Load() < perSender*senders/3 {
		time.Sleep(5 * time.Millisecond)
	}
	hosts[0].kill() // mid-load: host a's sessions and commits die with it
	killed.Store(true)
	wg.Wait()
	hosts[0] = launch(t, bin, config, "a2") // a restarts on the same database

	// Every acknowledged message is stored exactly once.
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[string]int{}
	msgs := 0
	for after := uint64(0); ; {
		page, err := db.Messages(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			for _, to := range m.EnvelopeTo {
				stored[to]++
			}
			msgs++
		}
		after = page[len(page)-1].ID
	}
	acked, sharedStored := 0, 0
	for _, a := range attempts {
		n := stored[a.verp]
		if a.acked {
			acked++
			if n != 1 {
				t.Errorf("%s (to host %d) was acknowledged and is stored %d times", a.verp, a.host, n)
			}
		} else if n > 1 {
			t.Errorf("%s (not acknowledged) is stored %d times", a.verp, n)
		}
		if a.rcpt == "shared@example.org" {
			sharedStored += n
		}
	}
	t.Logf("%d attempts, %d acknowledged, %d stored", len(attempts), acked, msgs)
	if acked < len(attempts)/2 {
		t.Errorf("only %d of %d attempts acknowledged", acked, len(attempts))
	}

	// The address both hosts received bounces for at once: every one
	// counted once, one suppression, one audit entry.
	r, events, err := db.Recipient(ctx, "shared@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts["hard"] != sharedStored || len(events) != sharedStored || !r.Suppressed {
		t.Errorf("shared@: %d hard, %d events, suppressed %v; %d messages stored", r.Counts["hard"], len(events), r.Suppressed, sharedStored)
	}
	entries, _, err := db.Audit(ctx, store.AuditFilter{Address: "shared@example.org"}, 0, 0)
	if err != nil || len(entries) != 1 {
		t.Errorf("audit of shared@: %d entries, %v; want one suppression", len(entries), err)
	}

	// Both hosts answer check alike.
	var list []string
	for _, a := range attempts {
		list = append(list, a.rcpt)
	}
	body, _ := json.Marshal(map[string]any{"addresses": list})
	var answers [2]string
	for i, h := range hosts {
		resp, err := http.Post("http://"+h.http+"/v1/check", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("host %d: check: %s %s", i, resp.Status, b)
		}
		answers[i] = string(b)
	}
	if answers[0] != answers[1] || !strings.Contains(answers[0], "shared@example.org") {
		t.Errorf("the hosts answer check differently:\n%s\n%s", answers[0], answers[1])
	}

	// The webhook endpoint got every change, in order, from one host at a
	// time (a host killed mid-delivery may have one entry sent again).
	trail, err := db.AuditAfter(ctx, 0, 0)
	if err != nil || len(trail) == 0 {
		t.Fatalf("audit trail: %d entries, %v", len(trail), err)
	}
	last := trail[len(trail)-1].Seq
	deadline := time.Now().Add(60 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]uint64(nil), rc.seqs...)
		rc.mu.Unlock()
		if len(got) > 0 && got[len(got)-1] == last {
			seen := map[uint64]bool{}
			for i, s := range got {
				if i > 0 && s < got[i-1] && s+1 < got[i-1] {
					t.Errorf("webhook went back from %d to %d", got[i-1], s)
				}
				seen[s] = true
			}
			for _, e := range trail {
				if !seen[e.Seq] {
					t.Errorf("entry %d never reached the webhook", e.Seq)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook got %d deliveries, up to %v; the trail ends at %d", len(got), got[max(len(got)-1, 0):], last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := rc.maxInFl.Load(); m != 1 {
		t.Errorf("the webhook endpoint had %d requests in flight at once, want 1", m)
	}
	if t.Failed() {
		t.Log(hosts[1].logText())
	}
}
