package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for bouncebench when a command
// starts its server as a child process.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if status := dispatch(args, &out, &errOut); status != 0 {
		t.Fatalf("bouncebench %s: status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), status, &out, &errOut)
	}
	t.Logf("bouncebench %s:\n%s", strings.Join(args, " "), &out)
	return out.String()
}

func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("output lacks %q", p)
		}
	}
}

// The compare mode loads the discard server and the sink, each as a child
// process, in alternation, and every message gets through to each.
func TestSMTPCompare(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	out := run(t, "smtp", "-n", "150", "-c", "5", "--warmup", "10", "--compare", "--rounds", "2", "--log", log)
	wantLines(t, out,
		`== discard server.*child process`,
		`== full sink.*child process`,
		`(?m)^   150 messages over 5 connections .* msg/s; 0 failed$`,
		`latency .*: p50 .* p90 .* p99 .* max `,
		`server heap max: HeapInuse [0-9.]+ MiB, HeapAlloc [0-9.]+ MiB .*server process alone`,
		`spot check: 50 acknowledged recipients found`,
		`ratio sink/discard: [0-9.]+`,
		`sink: server CPU [0-9]+ µs per message .*; disk written [0-9.]+ KB per message, [0-9.]+x the compressed message`,
		`(?m)^   disk written per message: [0-9.]+ KB by the store \([0-9.]+ KB with the log\), [0-9.]+x the [0-9.]+ KB the message takes compressed`,
		`ratio sink/discard over 2 rounds: median [0-9.]+, min [0-9.]+, max [0-9.]+`)
	if strings.Count(out, "; 0 failed") != 4 {
		t.Errorf("want all four runs without failures")
	}
}

// The same-recipient mode loads the sink with bounces of distinct
// recipients, then with bounces all naming one, and compares the two.
func TestSMTPSameRecipient(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	out := run(t, "smtp", "-n", "150", "-c", "5", "--warmup", "10", "--same-recipient", "--log", log)
	wantLines(t, out,
		`== full sink.*; bounces recipients of their own`,
		`== full sink.*; bounces all naming one recipient`,
		`(?m)^   150 messages over 5 connections .* msg/s; 0 failed$`,
		`spot check: 50 acknowledged recipients found`,
		`the recipient's counts add up to [0-9]+ observations \(160 messages answered 250\)`,
		`ratio same recipient/distinct recipients: rate [0-9.]+ \(target >= 0.9\), server CPU per message [0-9.]+ \(target <= 1.1\)`)
	if strings.Count(out, "; 0 failed") != 2 {
		t.Errorf("want both runs without failures")
	}
}

// --recipients N first bounces N recipients, then loads the sink with
// bounces naming them at random, as real traffic names stored recipients.
func TestSMTPRecipientsAnywhere(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	out := run(t, "smtp", "-n", "150", "-c", "5", "--recipients", "40", "--log", log)
	wantLines(t, out,
		`== full sink.*; bounces naming recipients drawn at random from 40 already stored`,
		`(?m)^   150 messages over 5 connections .* msg/s; 0 failed$`,
		`spot check: 50 acknowledged recipients found`,
		`(?m)^   disk written per message: [0-9.]+ KB by the store`)
	var out2, errOut bytes.Buffer
	if status := dispatch([]string{"smtp", "--recipients", "40", "--same-recipient"}, &out2, &errOut); status != 2 {
		t.Errorf("--recipients with --same-recipient: status %d, want 2", status)
	}
}

// --target loads a sink someone else started; the spot check still runs
// through its API.
func TestSMTPTarget(t *testing.T) {
	dir := t.TempDir()
	s, err := startServer(serveOptions{DB: filepath.Join(dir, "db"), SMTP: "127.0.0.1:0", HTTP: "127.0.0.1:0", Log: tlog{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop(context.Background())
	out := run(t, "smtp", "-n", "60", "-c", "3", "--warmup", "0", "--target", s.smtpAddr, "--api", s.httpAddr)
	wantLines(t, out, `60 messages over 3 connections .* 0 failed`, `server heap: unknown`, `spot check`)
}

// fill, then check and lookup on a sink started on the filled store: the
// check's answer must list exactly the suppressed addresses of the list.
func TestFillCheckLookup(t *testing.T) {
	db := filepath.Join(t.TempDir(), "filled.db")
	out := run(t, "fill", "--db", db, "-n", "3000", "--batch", "250")
	wantLines(t, out, `holds 3000 recipients, 300 suppressed, 12 messages`)

	log := filepath.Join(t.TempDir(), "server.log")
	out = run(t, "check", "--db", db, "--recipients", "3000", "--addresses", "2000", "--repeat", "2", "--log", log)
	wantLines(t, out, `request 2: .* 2000 checked, \d+ suppressed, \d+ invalid`, `target < 500ms\): p50 `, `server heap max`)

	out = run(t, "lookup", "--db", db, "--recipients", "3000", "--rate", "200", "--duration", "500ms", "--warmup", "0", "--inprocess", "--log", log)
	wantLines(t, out, `100 requests in .*, 0 other or failed`, `p99 `, `server and load client share this process`)
	if m := regexp.MustCompile(`answers: (\d+) suppressed`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("no lookup found a suppressed address; a tenth of the store is suppressed")
	}
}

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(101-i)*time.Millisecond)
	}
	l.summary() // sorts
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := l.percentile(c.q); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := (latencies{}).summary(); got != "no samples" {
		t.Errorf("empty summary = %q", got)
	}
}

// tlog routes the in-process server's log to the test log.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// prune fills a store of expired messages, then loads the sink on a copy
// of it idle and while it prunes them all.
func TestPruneCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "expired.db")
	out := run(t, "prune", "--db", db, "-n", "600", "--load", "200", "-c", "5", "--log", filepath.Join(t.TempDir(), "server.log"))
	wantLines(t, out,
		`filled .*expired.db with 600 messages received 100 days ago`,
		`(?m)^   idle: 200 messages, [0-9]+ msg/s; latency p50 .* p99 `,
		`(?m)^   pruned 600 raw messages \([0-9]+ MB stored\) in [0-9.]+s; meanwhile [0-9]+ messages`,
		`p99 while pruning / p99 idle: [0-9.]+ \(target < 2\)`)
}

// retention records days of classified bounces, prunes them and reports
// the bytes per stored bounce.
func TestRetentionCommand(t *testing.T) {
	out := run(t, "retention", "--days", "95", "--per-day", "4")
	wantLines(t, out,
		`recorded and pruned in [0-9]+s: 380 messages, [0-9]+ recipients, 380 events left; pruned 20 raw messages`,
		`(?m)^  raw +[0-9.]+ +[0-9]+% +360$`,
		`bytes in use per stored bounce: [0-9]+ \(all 380\); [0-9]+ once its raw message is pruned, [0-9]+ while it is kept`,
		`file and segments: [0-9.]+ MB, [0-9.]+ MB after bouncesink compact`)
}

func TestSpread(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want string
	}{
		{[]float64{0.53, 0.43}, "median 0.48, min 0.43, max 0.53"},
		{[]float64{3, 1, 2}, "median 2.00, min 1.00, max 3.00"},
		{[]float64{0.5}, "median 0.50, min 0.50, max 0.50"},
		{[]float64{4, 1, 3, 2}, "median 2.50, min 1.00, max 4.00"},
	} {
		if got := spread(tt.xs); got != tt.want {
			t.Errorf("spread(%v) = %q, want %q", tt.xs, got, tt.want)
		}
	}
}
