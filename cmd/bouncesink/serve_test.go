package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bouncesink/bouncesink/internal/testlog"
	"github.com/bouncesink/bouncesink/store"
)

// The integration tests run the real server in-process on loopback ports
// with a temporary database and talk SMTP and HTTP to it.

// testConfig is the default configuration on free loopback ports, with a
// database in a temporary directory and a small message size limit.
func testConfig(t *testing.T) Config {
	cfg := defaultConfig()
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.SMTP.Accept = []string{"bounces@news.example.com", "@bounce.example.com"}
	cfg.SMTP.MaxMessageBytes = 256 << 10
	cfg.Store.Path = filepath.Join(t.TempDir(), "data", "bouncesink.db")
	return cfg
}

// stepClock returns a clock that advances one minute per reading, so
// messages are received in order and well within the policy windows.
func stepClock() func() time.Time {
	var n atomic.Int64
	t0 := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Minute) }
}

// testServer is a running bouncesink and the URLs to reach it.
type testServer struct {
	*server
	smtp, http string // host:port, base URL
	stopped    bool
}

func startServer(t *testing.T, cfg Config, o runOptions) *testServer {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testlog.New(t)
	}
	if o.Now == nil {
		o.Now = stepClock()
	}
	s, err := start(cfg, o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ts := &testServer{server: s, smtp: s.smtpAddr.String(), http: "http://" + s.httpAddr.String()}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down as SIGTERM would, closing the database.
func (ts *testServer) stop(t *testing.T) {
	if ts.stopped {
		return
	}
	ts.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	select {
	case err := <-ts.errc:
		t.Errorf("a server stopped on its own: %v", err)
	default:
	}
}

// fixture reads testdata/smtp/name. When to is set, the recipient the file
// is written for (from) is replaced by to, in the report and in the VERP
// return path.
func fixture(t *testing.T, name, from, to string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "smtp", name))
	if err != nil {
		t.Fatal(err)
	}
	if to != "" {
		raw = bytes.ReplaceAll(raw, []byte(from), []byte(to))
		raw = bytes.ReplaceAll(raw, []byte(verpTag(from)), []byte(verpTag(to)))
	}
	return raw
}

// nth returns the n-th distinct copy of a fixture: another bounce of the
// same kind, with a Message-Id of its own. Two such copies count twice; the
// same bytes sent again (a retransmission) count once.
func nth(msg []byte, n int) []byte {
	return bytes.Replace(msg, []byte("Message-Id: <"), fmt.Appendf(nil, "Message-Id: <%d.", n), 1)
}

// verpTag encodes alice@example.org as alice=example.org.
func verpTag(addr string) string { return strings.Replace(addr, "@", "=", 1) }

// returnPath is the VERP return path the newsletter used for rcpt.
func returnPath(rcpt string) string { return "bounces+" + verpTag(rcpt) + "@news.example.com" }

func dialSMTP(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("mta.example.net"); err != nil {
		t.Fatal(err)
	}
	return c
}

// send runs one mail transaction on c and returns the first failure.
func send(c *smtp.Client, from, rcpt string, msg []byte) error {
	return c.SendMail(from, []string{rcpt}, bytes.NewReader(msg))
}

// bounce sends msg as a bounce (null sender) on a new connection; it fails
// the test unless the server answers 250.
func bounce(t *testing.T, ts *testServer, rcpt string, msg []byte) {
	t.Helper()
	c := dialSMTP(t, ts.smtp)
	if err := send(c, "", rcpt, msg); err != nil {
		t.Fatalf("sending to %s: %v", rcpt, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
}

func wantSMTPError(t *testing.T, err error, code int, enh smtp.EnhancedCode) *smtp.SMTPError {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("got %v, want SMTP reply %d %d.%d.%d", err, code, enh[0], enh[1], enh[2])
	}
	return se
}

// getJSON fetches url, decodes the JSON answer into out and returns the status.
func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, out)
}

func postJSON(t *testing.T, url string, body any, out any) int {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, out)
}

func decode(t *testing.T, resp *http.Response, out any) int {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: decoding %.200q: %v", resp.Request.URL, data, err)
		}
	}
	return resp.StatusCode
}

type recipientAnswer struct {
	Recipient store.Recipient `json:"recipient"`
	Events    []struct {
		Class  string `json:"class"`
		Status string `json:"status"`
	} `json:"events"`
}

// recipient returns the state and history of addr, failing unless it is known.
func recipient(t *testing.T, ts *testServer, addr string) recipientAnswer {
	t.Helper()
	var ans recipientAnswer
	if code := getJSON(t, ts.http+"/v1/recipients/"+addr, &ans); code != 200 {
		t.Fatalf("GET /v1/recipients/%s = %d, want 200", addr, code)
	}
	return ans
}

// suppressed reports whether GET /v1/suppressions/addr says so.
func suppressed(t *testing.T, ts *testServer, addr string) (store.Suppression, bool) {
	t.Helper()
	var s store.Suppression
	switch code := getJSON(t, ts.http+"/v1/suppressions/"+addr, &s); code {
	case 200:
		return s, true
	case 404:
		return store.Suppression{}, false
	default:
		t.Fatalf("GET /v1/suppressions/%s = %d", addr, code)
		return s, false
	}
}

type checkAnswerFull struct {
	Checked    int          `json:"checked"`
	Suppressed []checkEntry `json:"suppressed"`
	Invalid    []string     `json:"invalid"`
}

const (
	userUnknown  = "postfix-user-unknown.eml"   // written for alice@example.org
	userUnknown2 = "postfix-user-unknown-2.eml" // the same, for a later message to alice
	blocked      = "postfix-blocked.eml"        // for bob@example.net
	vacation     = "vacation.eml"               // from carol@example.com
)

func TestSecondHardBounceSuppresses(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	const alice = "alice@example.org"
	msg := fixture(t, userUnknown, "", "")

	bounce(t, ts, returnPath(alice), msg)
	if _, ok := suppressed(t, ts, alice); ok {
		t.Fatal("one hard bounce suppressed the address; the policy wants two")
	}
	got := recipient(t, ts, alice)
	if got.Recipient.Counts["hard"] != 1 || got.Recipient.LastStatus != "5.1.1" || len(got.Events) != 1 ||
		got.Events[0].Class != "hard" || got.Events[0].Status != "5.1.1" {
		t.Errorf("after one bounce: %+v, want one hard 5.1.1 event", got)
	}
	var ans checkAnswerFull
	postJSON(t, ts.http+"/v1/check", map[string][]string{"addresses": {alice}}, &ans)
	if ans.Checked != 1 || len(ans.Suppressed) != 0 {
		t.Errorf("check after one bounce = %+v, want nothing suppressed", ans)
	}

	// The same bounce again (an MTA that missed our 250) counts once.
	bounce(t, ts, returnPath(alice), msg)
	if _, ok := suppressed(t, ts, alice); ok {
		t.Fatal("one hard bounce received twice suppressed the address")
	}
	if got := recipient(t, ts, alice); got.Recipient.Counts["hard"] != 1 || len(got.Events) != 1 {
		t.Errorf("after a retransmission: counts %v, %d events; want one hard bounce", got.Recipient.Counts, len(got.Events))
	}

	// A second bounce, of another message to alice, suppresses.
	bounce(t, ts, returnPath(alice), fixture(t, userUnknown2, "", ""))
	s, ok := suppressed(t, ts, alice)
	if !ok || s.Reason != "hard" {
		t.Fatalf("after two hard bounces: suppression %+v (found %v), want reason hard", s, ok)
	}
	postJSON(t, ts.http+"/v1/check", map[string][]string{"addresses": {"Alice@Example.org", "dave@example.org"}}, &ans)
	if ans.Checked != 2 || len(ans.Suppressed) != 1 || ans.Suppressed[0].Address != "Alice@Example.org" ||
		ans.Suppressed[0].Reason != "hard" {
		t.Errorf("check after two bounces = %+v, want Alice@Example.org suppressed (hard)", ans)
	}
}

func TestBlockAndAutoReplyNeverSuppress(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	const bob, carol = "bob@example.net", "carol@example.com"
	for i := range 3 {
		bounce(t, ts, returnPath(bob), nth(fixture(t, blocked, "", ""), i))
		c := dialSMTP(t, ts.smtp)
		if err := send(c, carol, returnPath(carol), nth(fixture(t, vacation, "", ""), i)); err != nil {
			t.Fatalf("sending the auto-reply: %v", err)
		}
	}
	for addr, class := range map[string]string{bob: "block", carol: "autoreply"} {
		got := recipient(t, ts, addr)
		if got.Recipient.Counts[class] != 3 || got.Recipient.Suppressed {
			t.Errorf("%s: counts %v, suppressed %v; want 3 %s and not suppressed",
				addr, got.Recipient.Counts, got.Recipient.Suppressed, class)
		}
		if s, ok := suppressed(t, ts, addr); ok {
			t.Errorf("%s suppressed: %+v", addr, s)
		}
	}
}

func TestForeignRecipientIsRefused(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	c := dialSMTP(t, ts.smtp)
	for _, rcpt := range []string{"victim@gmail.com", "postmaster@news.example.com", "other+alice=example.org@news.example.com"} {
		if err := c.Mail("", nil); err != nil {
			t.Fatal(err)
		}
		wantSMTPError(t, c.Rcpt(rcpt, nil), 550, smtp.EnhancedCode{5, 1, 1})
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	if code := getJSON(t, ts.http+"/v1/recipients/alice@example.org", nil); code != 404 {
		t.Errorf("GET recipient after refused RCPTs = %d, want 404 (nothing stored)", code)
	}
}

func TestOversizedMessageThenNextOnSameSession(t *testing.T) {
	cfg := testConfig(t)
	ts := startServer(t, cfg, runOptions{})
	const alice = "alice@example.org"
	c := dialSMTP(t, ts.smtp)

	big := fixture(t, userUnknown, "", "")
	for int64(len(big)) <= cfg.SMTP.MaxMessageBytes {
		big = append(big, strings.Repeat("x", 76)+"\n"...)
	}
	wantSMTPError(t, send(c, "", returnPath(alice), big), 552, smtp.EnhancedCode{5, 3, 4})
	if code := getJSON(t, ts.http+"/v1/recipients/"+alice, nil); code != 404 {
		t.Errorf("oversized message was stored (GET recipient = %d)", code)
	}

	if err := send(c, "", returnPath(alice), fixture(t, userUnknown, "", "")); err != nil {
		t.Fatalf("next message on the same session: %v", err)
	}
	if got := recipient(t, ts, alice); len(got.Events) != 1 {
		t.Errorf("events = %d, want 1", len(got.Events))
	}
}

// failingWriter fails every Record while fail is set, as a full disk would.
type failingWriter struct {
	store.Writer
	fail atomic.Bool
}

func (w *failingWriter) Record(ctx context.Context, m store.Message) (uint64, error) {
	if w.fail.Load() {
		return 0, errors.New("write /var/lib/bouncesink/secret.db: no space left on device")
	}
	return w.Writer.Record(ctx, m)
}

func TestStoreFailureReplies451(t *testing.T) {
	fw := &failingWriter{}
	fw.fail.Store(true)
	ts := startServer(t, testConfig(t), runOptions{WrapWriter: func(w store.Writer) store.Writer {
		fw.Writer = w
		return fw
	}})
	const alice = "alice@example.org"
	c := dialSMTP(t, ts.smtp)
	se := wantSMTPError(t, send(c, "", returnPath(alice), fixture(t, userUnknown, "", "")), 451, smtp.EnhancedCode{4, 3, 0})
	if strings.Contains(se.Message, "space") || strings.Contains(se.Message, "secret") {
		t.Errorf("451 reply %q leaks the internal error", se.Message)
	}
	if code := getJSON(t, ts.http+"/v1/recipients/"+alice, nil); code != 404 {
		t.Errorf("GET recipient after a failed store = %d, want 404", code)
	}
	// Reads go on, but a monitor must see that bounces are refused.
	var health map[string]string
	if code := getJSON(t, ts.http+"/healthz", &health); code != 503 || health["status"] != "degraded" ||
		strings.Contains(health["error"], "secret") {
		t.Errorf("GET /healthz while writes fail = %d %v, want 503 degraded without internal text", code, health)
	}

	// The sending MTA retries once the disk has room again.
	fw.fail.Store(false)
	if err := send(c, "", returnPath(alice), fixture(t, userUnknown, "", "")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := recipient(t, ts, alice); len(got.Events) != 1 {
		t.Errorf("events after the retry = %d, want 1", len(got.Events))
	}
	if code := getJSON(t, ts.http+"/healthz", nil); code != 200 {
		t.Errorf("GET /healthz once writes work = %d, want 200", code)
	}
}

func TestAcknowledgedBouncesSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	clock := stepClock()
	ts := startServer(t, cfg, runOptions{Now: clock})

	// Several senders at once, as MTAs flushing their queues would.
	const senders, perSender = 4, 5
	msg := fixture(t, userUnknown, "", "")
	var wg sync.WaitGroup
	errs := make(chan error, senders*perSender)
	for i := range senders {
		wg.Go(func() {
			c, err := smtp.Dial(ts.smtp)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Hello("mta.example.net"); err != nil {
				errs <- err
				return
			}
			for j := range perSender {
				to := fmt.Sprintf("user%d.%d@example.org", i, j)
				m := bytes.ReplaceAll(msg, []byte("alice@example.org"), []byte(to))
				m = bytes.ReplaceAll(m, []byte("alice=example.org"), []byte(verpTag(to)))
				if err := send(c, "", returnPath(to), m); err != nil {
					errs <- fmt.Errorf("%s: %w", to, err)
				}
			}
			c.Quit()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("not acknowledged: %v", err)
	}

	ts.stop(t)
	ts = startServer(t, cfg, runOptions{Now: clock})
	for i := range senders {
		for j := range perSender {
			addr := fmt.Sprintf("user%d.%d@example.org", i, j)
			if got := recipient(t, ts, addr); got.Recipient.Counts["hard"] != 1 || len(got.Events) != 1 {
				t.Errorf("%s after restart: counts %v, %d events; want one hard bounce",
					addr, got.Recipient.Counts, len(got.Events))
			}
		}
	}
	// The policy state survived too: one more hard bounce suppresses.
	const again = "user0.0@example.org"
	bounce(t, ts, returnPath(again), fixture(t, userUnknown2, "alice@example.org", again))
	if _, ok := suppressed(t, ts, again); !ok {
		t.Errorf("%s: second hard bounce, across a restart, did not suppress", again)
	}
}

func TestCheckHundredThousandAddresses(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	const alice = "alice@example.org"
	for i := range 2 {
		bounce(t, ts, returnPath(alice), nth(fixture(t, userUnknown, "", ""), i))
	}

	const n = 100_000
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("reader%06d@example.com", i)
	}
	addrs[n/2] = alice
	addrs[n-1] = "not-an-address"
	var ans checkAnswerFull
	if code := postJSON(t, ts.http+"/v1/check", map[string][]string{"addresses": addrs}, &ans); code != 200 {
		t.Fatalf("POST /v1/check with %d addresses = %d", n, code)
	}
	if ans.Checked != n || len(ans.Suppressed) != 1 || ans.Suppressed[0].Address != alice ||
		len(ans.Invalid) != 1 || ans.Invalid[0] != "not-an-address" {
		t.Errorf("checked %d, suppressed %+v, invalid %q; want %d, [%s], [not-an-address]",
			ans.Checked, ans.Suppressed, ans.Invalid, n, alice)
	}
}

func TestHealthz(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	var got map[string]string
	if code := getJSON(t, ts.http+"/healthz", &got); code != 200 || got["status"] != "ok" {
		t.Errorf("GET /healthz = %d %v", code, got)
	}
}

func TestCheckCommand(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	const alice = "alice@example.org"
	for i := range 2 {
		bounce(t, ts, returnPath(alice), nth(fixture(t, userUnknown, "", ""), i))
	}
	tests := []struct {
		args       []string
		wantStatus int
		wantOut    string
	}{
		{[]string{"dave@example.org"}, 0, "dave@example.org\tok\n"},
		{[]string{"dave@example.org", alice}, 1, alice + "\tsuppressed\treason=hard"},
		{[]string{"nonsense"}, 2, "nonsense\tinvalid\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		args := append([]string{"check", "--api", ts.http}, tt.args...)
		if got := dispatch(args, nil, &stdout, &stderr); got != tt.wantStatus || !strings.Contains(stdout.String(), tt.wantOut) {
			t.Errorf("bouncesink %q = %d, %q (stderr %q); want %d, %q",
				args, got, stdout.String(), stderr.String(), tt.wantStatus, tt.wantOut)
		}
	}
	// No server there: an error, not "not suppressed".
	var stdout, stderr bytes.Buffer
	if got := dispatch([]string{"check", "--api", "http://127.0.0.1:1", alice}, nil, &stdout, &stderr); got != 2 {
		t.Errorf("check against no server = %d, want 2", got)
	}
}

// run, as serve uses it, creates the database on first start and returns
// cleanly when its context ends (SIGINT or SIGTERM).
func TestRunCreatesDatabaseAndStopsOnCancel(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, cfg, runOptions{Logger: testlog.New(t)}); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := os.Stat(cfg.Store.Path); err != nil {
		t.Errorf("database not created: %v", err)
	}
}

// A message no decoder understands is still acknowledged and kept: refusing
// it would make the sending MTA retry, or bounce the bounce.
func TestUnclassifiableMessageIsAccepted(t *testing.T) {
	ts := startServer(t, testConfig(t), runOptions{})
	bounce(t, ts, "bounces@news.example.com", []byte("Subject: hello\n\njust saying hi\n"))
	bounce(t, ts, "anyone@bounce.example.com", []byte("\x00\xff garbage without headers"))
}
